// SPA mode with pre-rendered pages (https://reactrouter.com/how-to/spa,
// https://reactrouter.com/how-to/pre-rendering): ssr false, / and /about are rendered at build
// time; every other URL boots from the SPA fallback. Output buildDirectory default 'build',
// the site is build/client.
/** @type {import('@react-router/dev/config').Config} */
export default {
  ssr: false,
  prerender: ['/', '/about'],
};
