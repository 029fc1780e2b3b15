"use client";

export default function ErrorPage({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <>
      <h1>Something went wrong</h1>
      <p className="alert alert-error" role="alert" data-testid="error-box">
        The page could not be shown{error.digest ? ` (reference ${error.digest})` : ""}.
      </p>
      <button type="button" className="btn" onClick={reset}>
        Try again
      </button>
    </>
  );
}
