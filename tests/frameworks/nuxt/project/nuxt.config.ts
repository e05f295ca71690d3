// https://nuxt.com/docs/api/configuration/nuxt-config
// `nuxt generate` prerenders every route into .output/public
// (https://nuxt.com/docs/getting-started/deployment#static-hosting). ssr stays true (default):
// pre-rendered pages, with 200.html (SPA fallback) and 404.html written beside them.
export default defineNuxtConfig({
  compatibilityDate: '2026-01-01',
  devtools: { enabled: false },
  telemetry: false,
});
