export default function NotFound() {
  return <p>FIXTURE-nextjs-404</p>;
}
