export default function About() {
  return <p>FIXTURE-nextjs-about</p>;
}
