export default function NotFound() {
  return <p>FIXTURE-react-router-notfound</p>;
}
