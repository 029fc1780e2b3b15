import Link from "next/link";

export default function NotFound() {
  return (
    <>
      <h1>Not found</h1>
      <p data-testid="not-found">
        There is nothing at this address. <Link href="/">Back to the start page</Link>.
      </p>
    </>
  );
}
