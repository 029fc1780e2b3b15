import type { NextConfig } from "next";
import { PHASE_DEVELOPMENT_SERVER } from "next/constants";

// The browser always calls the API same-origin at /api/v1/... . In production (and in `make run`)
// Caddy routes /api/* to the API before the request reaches Next.js, so the production build has
// no rewrite and bakes no address in. Under `next dev` there is no Caddy: the dev server proxies
// /api/*, /healthz and /readyz to API_URL itself. Set MEDFORGE_API_REWRITE=1 at build time to get
// the same proxy in a production build (for running `next start` without Caddy in tests).
export default function config(phase: string): NextConfig {
  const apiUrl = (process.env.API_URL ?? "http://127.0.0.1:8000").replace(/\/+$/, "");
  const proxy = phase === PHASE_DEVELOPMENT_SERVER || process.env.MEDFORGE_API_REWRITE === "1";
  return {
    output: "standalone",
    reactStrictMode: true,
    poweredByHeader: false,
    // `npm run lint` checks the code (and the `web` test stage runs it); the build only type-checks.
    eslint: { ignoreDuringBuilds: true },
    ...(proxy
      ? {
          async rewrites() {
            return [{ source: "/api/:path*", destination: `${apiUrl}/api/:path*` }];
          },
        }
      : {}),
  };
}
