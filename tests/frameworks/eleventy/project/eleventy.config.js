// Input src/, output _site (the default, https://www.11ty.dev/docs/config/#output-directory).
export default function (eleventyConfig) {
  eleventyConfig.addPassthroughCopy({ 'src/css': 'css' });
  return { dir: { input: 'src' } };
}
