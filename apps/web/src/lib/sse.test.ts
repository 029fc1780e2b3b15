import { describe, expect, it, vi } from "vitest";
import { followSession } from "./session-events";
import { openEventStream, SseParser } from "./sse";

describe("SseParser", () => {
  it("parses id, event, data and retry, and skips comments", () => {
    const p = new SseParser();
    const out = p.push(
      'retry: 2000\n\n: keep-alive\n\nid: 1\nevent: starting\ndata: {"id":1,"kind":"starting"}\n\nid: 2\nevent: running\ndata: {"id":2}\n\n',
    );
    expect(p.retryMs).toBe(2000);
    expect(out).toEqual([
      { id: "1", event: "starting", data: '{"id":1,"kind":"starting"}' },
      { id: "2", event: "running", data: '{"id":2}' },
    ]);
    expect(p.lastEventId).toBe("2");
  });

  it("handles events split across chunks anywhere, including inside a CRLF", () => {
    const text = "id: 7\r\nevent: stopping\r\ndata: a\r\ndata: b\r\n\r\nid: 8\revent: stopped\rdata: c\r\r";
    for (let cut = 1; cut < text.length; cut++) {
      const p = new SseParser();
      const out = [...p.push(text.slice(0, cut)), ...p.push(text.slice(cut))];
      expect(out, `cut at ${cut}`).toEqual([
        { id: "7", event: "stopping", data: "a\nb" },
        { id: "8", event: "stopped", data: "c" },
      ]);
    }
  });

  it("defaults the event type to message, ignores bad retry values and ids with NUL", () => {
    const p = new SseParser();
    expect(p.push("retry: soon\ndata:x\n\nid: a\0b\ndata: y\n\n")).toEqual([
      { id: null, event: "message", data: "x" },
      { id: null, event: "message", data: "y" },
    ]);
    expect(p.retryMs).toBeNull();
  });
});

/** A fetch double: each call answers the next scripted response; records the request headers. */
function scriptedFetch(script: (Response | Error)[]) {
  const calls: Record<string, string>[] = [];
  const impl = vi.fn(async (_url: string | URL | Request, init?: RequestInit) => {
    calls.push({ ...(init?.headers as Record<string, string>) });
    const next = script.shift();
    if (!next) throw new Error("no more responses");
    if (next instanceof Error) throw next;
    return next;
  });
  return { impl: impl as unknown as typeof fetch, calls };
}

function streamResponse(chunks: string[], status = 200): Response {
  const enc = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      for (const ch of chunks) c.enqueue(enc.encode(ch));
      c.close();
    },
  });
  return new Response(body, { status, headers: { "content-type": "text/event-stream" } });
}

const ev = (id: number, kind: string) =>
  `id: ${id}\nevent: ${kind}\ndata: ${JSON.stringify({ id, at: "2026-01-01T00:00:00Z", kind, message: kind })}\n\n`;

describe("followSession", () => {
  it("reconnects after the server ends the stream, resuming with Last-Event-ID, and stops at a terminal event", async () => {
    const { impl, calls } = scriptedFetch([
      streamResponse(["retry: 500\n\n", ev(1, "starting"), ev(2, "run"), "ning-not-a-line"]),
      new Error("network down"),
      streamResponse([ev(3, "running"), ev(4, "stopping")]),
      streamResponse([ev(5, "stopped")]),
      streamResponse([ev(6, "should-not-be-read")]),
    ]);
    const waits: number[] = [];
    const kinds: string[] = [];
    const s = followSession(
      "sid",
      { onEvent: (e) => kinds.push(e.kind) },
      { fetchImpl: impl, sleep: async (ms) => void waits.push(ms) },
    );
    await expect(s.done).resolves.toBe("terminal");
    expect(kinds).toEqual(["starting", "run", "running", "stopping", "stopped"]);
    expect(calls.map((h) => h["last-event-id"])).toEqual([undefined, "2", "2", "4"]);
    expect(calls.every((h) => h.accept === "text/event-stream")).toBe(true);
    // The server's retry (500 ms) is the base; the failed connection doubles nothing on the first try.
    expect(waits).toEqual([500, 500, 500]);
  });

  it("starts from a known Last-Event-ID", async () => {
    const { impl, calls } = scriptedFetch([streamResponse([ev(9, "error")])]);
    const s = followSession("sid", { onEvent: () => undefined }, { fetchImpl: impl, sleep: async () => undefined, lastEventId: "8" });
    await expect(s.done).resolves.toBe("terminal");
    expect(calls[0]?.["last-event-id"]).toBe("8");
  });

  it("gives up at once on 404 (not the owner / unknown session)", async () => {
    const { impl } = scriptedFetch([new Response('{"code":"session_not_found"}', { status: 404 })]);
    const states: string[] = [];
    const s = followSession("sid", { onEvent: () => undefined, onState: (st) => states.push(st) }, { fetchImpl: impl, sleep: async () => undefined });
    await expect(s.done).resolves.toBe("failed");
    expect(states).toEqual(["connecting", "closed"]);
  });

  it("backs off exponentially on repeated failures and gives up after maxFailures", async () => {
    const { impl } = scriptedFetch([
      new Response("", { status: 503 }),
      new Error("refused"),
      new Error("refused"),
      new Error("refused"),
    ]);
    const waits: number[] = [];
    const s = openEventStream({
      url: "/x",
      parse: (m) => m.data,
      onEvent: () => undefined,
      isTerminal: () => false,
      fetchImpl: impl,
      sleep: async (ms) => void waits.push(ms),
      retryMs: 1000,
      maxRetryMs: 5000,
      maxFailures: 4,
    });
    await expect(s.done).resolves.toBe("failed");
    expect(waits).toEqual([1000, 2000, 4000]);
  });

  it("close() ends a stream that is waiting to reconnect", async () => {
    const { impl } = scriptedFetch([streamResponse([ev(1, "running")]), streamResponse([])]);
    let release: () => void = () => undefined;
    const s = openEventStream({
      url: "/x",
      parse: (m) => m.data,
      onEvent: () => undefined,
      isTerminal: () => false,
      fetchImpl: impl,
      sleep: (_ms, signal) =>
        new Promise<void>((r) => {
          release = r;
          signal.addEventListener("abort", () => r());
        }),
    });
    await new Promise((r) => setTimeout(r, 10));
    s.close();
    release();
    await expect(s.done).resolves.toBe("closed");
  });

  it("skips messages whose data is not JSON", async () => {
    const { impl } = scriptedFetch([streamResponse(["id: 1\nevent: starting\ndata: {oops\n\n", ev(2, "stopped")])]);
    const kinds: string[] = [];
    const s = followSession("sid", { onEvent: (e) => kinds.push(e.kind) }, { fetchImpl: impl, sleep: async () => undefined });
    await expect(s.done).resolves.toBe("terminal");
    expect(kinds).toEqual(["stopped"]);
  });
});
