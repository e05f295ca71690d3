import { index, route } from '@react-router/dev/routes';

export default [
  index('routes/home.jsx'),
  route('about', 'routes/about.jsx'),
  route('users/:id', 'routes/user.jsx'),
  route('*', 'routes/notfound.jsx'),
];
