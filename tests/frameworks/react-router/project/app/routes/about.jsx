// A build-time loader: pre-rendering writes about.data next to about/index.html.
export async function loader() {
  return { message: 'FIXTURE-react-router-about' };
}

export default function About({ loaderData }) {
  return <p>{loaderData.message}</p>;
}
