export default function Home() {
  return <p>FIXTURE-react-router-home</p>;
}
