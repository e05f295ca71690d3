// Client-only route: rendered in the browser from the SPA fallback.
export async function clientLoader({ params }) {
  return { id: params.id };
}

export default function User({ loaderData }) {
  return <p>FIXTURE-react-router-user-{loaderData.id}</p>;
}
