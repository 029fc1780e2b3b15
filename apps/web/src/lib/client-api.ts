// Browser-side calls to the API: always same-origin `/api/v1/...` (Caddy routes it to the API), so
// the `medforge_session` cookie goes along and the API's Origin check sees the web's own origin.
import { ApiError, toProblem } from "./problem";
import type { Envelope } from "./types";

export interface RequestOptions {
  method?: "GET" | "POST" | "PATCH" | "DELETE";
  json?: unknown;
  signal?: AbortSignal;
}

export async function readBody(res: Response): Promise<unknown> {
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Calls `/api/v1${path}` and answers the envelope; a non-2xx answer throws an ApiError. */
export async function apiRequest<T>(path: string, options: RequestOptions = {}): Promise<Envelope<T>> {
  const headers: Record<string, string> = { accept: "application/json" };
  let body: string | undefined;
  if (options.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(options.json);
  }
  let res: Response;
  try {
    res = await fetch(`/api/v1${path}`, {
      method: options.method ?? "GET",
      headers,
      body,
      credentials: "same-origin",
      cache: "no-store",
      signal: options.signal,
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === "AbortError") throw err;
    throw new ApiError(toProblem(0, null));
  }
  const parsed = await readBody(res);
  if (!res.ok) throw new ApiError(toProblem(res.status, parsed));
  return parsed as Envelope<T>;
}

export async function apiData<T>(path: string, options?: RequestOptions): Promise<T> {
  return (await apiRequest<T>(path, options)).data;
}
