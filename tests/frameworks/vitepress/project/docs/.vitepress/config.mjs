// Defaults on purpose: outDir <srcDir>/.vitepress/dist, cleanUrls false (pages are .html files,
// links end in .html), base '/' (https://vitepress.dev/reference/site-config).
export default {
  title: 'FIXTURE vitepress',
  description: 'spadeploy fixture',
};
