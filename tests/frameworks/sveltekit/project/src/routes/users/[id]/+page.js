// A client-only route: not prerendered, rendered in the browser from the fallback page
// (https://svelte.dev/docs/kit/single-page-apps).
export const prerender = false;
export const ssr = false;

export function load({ params }) {
  return { id: params.id };
}
