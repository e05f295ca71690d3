export default function Home() {
  return <p>FIXTURE-nextjs-home</p>;
}
