import Layout from '@theme/Layout';
import Link from '@docusaurus/Link';

export default function Home() {
  return (
    <Layout title="home">
      <main>
        <p>FIXTURE-docusaurus-home</p>
        <Link to="/docs/guide/intro">intro</Link> <Link to="/about">about</Link>
      </main>
    </Layout>
  );
}
