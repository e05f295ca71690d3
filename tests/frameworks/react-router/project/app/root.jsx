import { Links, Meta, Outlet, Scripts, ScrollRestoration, Link } from 'react-router';

export function Layout({ children }) {
  return (
    <html lang="en">
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>FIXTURE react-router</title>
        <Meta />
        <Links />
      </head>
      <body>
        <nav>
          <Link to="/">home</Link> <Link to="/about">about</Link> <Link to="/users/7">user 7</Link>
        </nav>
        {children}
        <ScrollRestoration />
        <Scripts />
      </body>
    </html>
  );
}

export default function App() {
  return <Outlet />;
}

// Shown by the SPA fallback until the client has loaded the route.
export function HydrateFallback() {
  return <p>loading</p>;
}
