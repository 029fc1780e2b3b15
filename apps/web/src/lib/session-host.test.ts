import { describe, expect, it } from "vitest";
import { sessionUrl } from "./session-host";

describe("sessionUrl", () => {
  it("puts s-<slug>. in front of the web host, keeping scheme and port", () => {
    expect(sessionUrl("abcd2345", { protocol: "http:", host: "medforge.localhost:8080" })).toBe(
      "http://s-abcd2345.medforge.localhost:8080/",
    );
    expect(sessionUrl("abcd2345", { protocol: "https:", host: "medforge.example.org" })).toBe(
      "https://s-abcd2345.medforge.example.org/",
    );
  });

  it("keeps a non-default https port and lower-cases the host", () => {
    expect(sessionUrl("zzzz7777", { protocol: "https:", host: "MedForge.Example.ORG:8443" })).toBe(
      "https://s-zzzz7777.medforge.example.org:8443/",
    );
  });

  it("drops a trailing dot of the host", () => {
    expect(sessionUrl("abcd2345", { protocol: "https:", host: "medforge.example.org." })).toBe(
      "https://s-abcd2345.medforge.example.org/",
    );
    expect(sessionUrl("abcd2345", { protocol: "http:", host: "medforge.localhost.:8080" })).toBe(
      "http://s-abcd2345.medforge.localhost:8080/",
    );
  });

  it("falls back to the API's url when the page is not on a medforge. host", () => {
    const api = "http://s-abcd2345.medforge.localhost:8080/";
    expect(sessionUrl("abcd2345", { protocol: "http:", host: "localhost:3000" }, api)).toBe(api);
    expect(sessionUrl("abcd2345", { protocol: "http:", host: "127.0.0.1:3000" }, api)).toBe(api);
    expect(sessionUrl("abcd2345", { protocol: "http:", host: "localhost:3000" })).toBeNull();
  });

  it("refuses slugs that are not 8 characters of a-z2-7 (no host injection)", () => {
    const loc = { protocol: "https:", host: "medforge.example.org" };
    expect(sessionUrl("evil.com/", loc)).toBeNull();
    expect(sessionUrl("ABCD2345", loc)).toBeNull();
    expect(sessionUrl("abcd1234", loc)).toBeNull();
    expect(sessionUrl("abcd234", loc, "javascript:alert(1)")).toBeNull();
  });

  it("never answers another scheme than http or https", () => {
    expect(sessionUrl("abcd2345", { protocol: "ftp:", host: "medforge.example.org" })).toBe(
      "http://s-abcd2345.medforge.example.org/",
    );
  });
});
