import adapter from '@sveltejs/adapter-static';

/** @type {import('@sveltejs/kit').Config} */
const config = {
  kit: {
    // fallback '200.html': the SPA shell for routes that are not prerendered
    // (https://svelte.dev/docs/kit/adapter-static#Options-fallback,
    //  https://svelte.dev/docs/kit/single-page-apps). Output folder: pages = 'build'.
    // trailingSlash and paths.relative stay at their defaults ('never' and true).
    adapter: adapter({ fallback: '200.html' }),
  },
};

export default config;
