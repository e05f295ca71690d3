// Swizzled (ejected) NotFound page: the theme renders it into build/404.html.
import Layout from '@theme/Layout';

export default function NotFound() {
  return (
    <Layout title="not found">
      <p>FIXTURE-docusaurus-404</p>
    </Layout>
  );
}
