'use client';
import { useEffect, useState } from 'react';

// A client component: its text after hydration proves the page's chunks loaded.
export default function Hello() {
  const [hydrated, setHydrated] = useState(false);
  useEffect(() => setHydrated(true), []);
  return (
    <>
      <p>FIXTURE-nextjs-blog-hello</p>
      <p>{hydrated ? 'FIXTURE-nextjs-hydrated' : 'not hydrated'}</p>
    </>
  );
}
