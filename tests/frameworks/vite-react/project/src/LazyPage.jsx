export default function LazyPage() {
  return <p>FIXTURE-vite-react-lazy</p>
}
