// Liveness of the web server itself (the container's HEALTHCHECK); it does not call the API.
export const dynamic = "force-dynamic";

export function GET() {
  return Response.json({ status: "ok" }, { headers: { "cache-control": "no-store" } });
}
