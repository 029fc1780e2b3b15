// The address of a session's VS Code. The web is served at `medforge.<domain>[:port]`, and every
// session at `s-<slug>.medforge.<domain>[:port]`, so the session host is derived from the page's
// own host: same scheme, same port, `s-<slug>.` in front. No domain is baked into the build.

export interface LocationLike {
  protocol: string; // "http:" | "https:"
  host: string; // hostname[:port]
}

const SLUG = /^[a-z2-7]{8}$/;

/**
 * `http(s)://s-<slug>.<current host>/` when the page is served from a `medforge.` host;
 * otherwise (a dev server on localhost, an IP) the API's own `url` for the session.
 */
export function sessionUrl(slug: string, location: LocationLike | null | undefined, apiUrl?: string): string | null {
  const fallback = apiUrl && /^https?:\/\//.test(apiUrl) ? apiUrl : null;
  if (!SLUG.test(slug) || !location) return fallback;
  const host = location.host.toLowerCase().replace(/\.(?=:|$)/, "");
  const scheme = location.protocol === "https:" ? "https:" : "http:";
  if (!host.startsWith("medforge.")) return fallback;
  return `${scheme}//s-${slug}.${host}/`;
}
