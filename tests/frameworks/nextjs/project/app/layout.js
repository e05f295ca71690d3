import Link from 'next/link';

export const metadata = { title: 'FIXTURE nextjs' };

export default function RootLayout({ children }) {
  return (
    <html lang="en">
      <body>
        <nav>
          <Link href="/">home</Link> <Link href="/about">about</Link>{' '}
          <Link href="/blog/hello">blog/hello</Link>
        </nav>
        <main>{children}</main>
      </body>
    </html>
  );
}
