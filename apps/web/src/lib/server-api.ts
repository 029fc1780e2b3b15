// Server-side calls to the API (server components): `API_URL` (default http://127.0.0.1:8000),
// forwarding only the visitor's `medforge_session` cookie. Read at request time, never baked in.
import "server-only";
import { cookies } from "next/headers";
import { cache } from "react";
import { redirect } from "next/navigation";
import { toProblem, type Problem } from "./problem";
import type { Envelope, Me } from "./types";

export const SESSION_COOKIE = "medforge_session";

export function apiBase(): string {
  return (process.env.API_URL ?? "http://127.0.0.1:8000").replace(/\/+$/, "");
}

export type ApiResult<T> = { ok: true; data: T; meta: Envelope<T>["meta"] } | { ok: false; problem: Problem };

async function authHeaders(): Promise<Record<string, string>> {
  const token = (await cookies()).get(SESSION_COOKIE)?.value;
  const headers: Record<string, string> = { accept: "application/json" };
  if (token) headers.cookie = `${SESSION_COOKIE}=${token}`;
  return headers;
}

/** GET `path` (e.g. `/api/v1/me`) on the API; never throws for HTTP or network failures. */
export async function apiGet<T>(path: string): Promise<ApiResult<T>> {
  let res: Response;
  try {
    res = await fetch(`${apiBase()}${path}`, { headers: await authHeaders(), cache: "no-store" });
  } catch {
    return { ok: false, problem: toProblem(0, null, "The MedForge API could not be reached.") };
  }
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  if (!res.ok) return { ok: false, problem: toProblem(res.status, body) };
  const env = body as Envelope<T>;
  return { ok: true, data: env.data, meta: env.meta };
}

/**
 * The logged-in user, or null (no cookie, an expired login, or the API down). Memoised per
 * request, so the layout and the page share one call.
 */
export const getMe = cache(async (): Promise<Me | null> => {
  const token = (await cookies()).get(SESSION_COOKIE)?.value;
  if (!token) return null;
  const r = await apiGet<Me>("/api/v1/me");
  return r.ok ? r.data : null;
});

/** The logged-in user; otherwise a redirect to the login page that comes back to `here`. */
export async function requireMe(here: string): Promise<Me> {
  const me = await getMe();
  if (!me) redirect(`/auth/login?next=${encodeURIComponent(here)}`);
  return me;
}
