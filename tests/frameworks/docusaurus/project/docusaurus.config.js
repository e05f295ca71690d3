// @ts-check
// trailingSlash left undefined (default): pages are written as docs/guide/intro/index.html and
// URLs are kept as requested (https://docusaurus.io/docs/api/docusaurus-config#trailingSlash).
/** @type {import('@docusaurus/types').Config} */
const config = {
  title: 'FIXTURE docusaurus',
  url: 'https://fixture.example',
  baseUrl: '/',
  onBrokenLinks: 'throw',
  presets: [
    [
      'classic',
      /** @type {import('@docusaurus/preset-classic').Options} */
      ({
        docs: { sidebarPath: undefined },
        blog: false,
        theme: {},
      }),
    ],
  ],
};

module.exports = config;
