// Every page is prerendered unless it opts out (https://svelte.dev/docs/kit/page-options#prerender).
export const prerender = true;
