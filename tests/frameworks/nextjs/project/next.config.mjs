/** @type {import('next').NextConfig} */
// output 'export' writes a static site to out/ (https://nextjs.org/docs/app/guides/static-exports).
// trailingSlash stays at its default (false): /about is written as about.html
// (https://nextjs.org/docs/app/api-reference/config/next-config-js/trailingSlash).
const nextConfig = {
  output: 'export',
  productionBrowserSourceMaps: false,
};

export default nextConfig;
