// @ts-check
import { defineConfig } from 'astro/config';

// Defaults on purpose: output 'static', outDir './dist', build.format 'directory'
// (about/index.html), build.assets '_astro', trailingSlash 'ignore'
// (https://docs.astro.build/en/reference/configuration-reference/).
export default defineConfig({});
