// Server-Sent Events over fetch, for `GET /api/v1/sessions/{id}/events`.
//
// EventSource would reconnect forever after the API ends a finished stream, so the page reads the
// stream itself: an incremental parser (the WHATWG event-stream format: `id:`, `event:`, `data:`,
// `retry:`, `:` comments, CR/LF/CRLF line ends) and a connection that resumes after a drop or the
// server's 10-minute cut with `Last-Event-ID`, and stops for good once a terminal event arrives.

export interface SseMessage {
  id: string | null;
  event: string;
  data: string;
}

export class SseParser {
  private buffer = "";
  private data: string[] = [];
  private eventType = "";
  private sawCr = false;
  /** The last `id:` seen (kept across events, as the spec's "last event ID buffer"). */
  lastEventId: string | null = null;
  /** The last valid `retry:` value in milliseconds, if any. */
  retryMs: number | null = null;

  /** Feeds a chunk of text; answers the events it completed. */
  push(chunk: string): SseMessage[] {
    const out: SseMessage[] = [];
    let text = chunk;
    // A CR at the end of the previous chunk followed by LF here is one CRLF line end.
    if (this.sawCr && text.startsWith("\n")) text = text.slice(1);
    this.sawCr = false;
    this.buffer += text;
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer);
      if (!m) break;
      if (m[0] === "\r" && m.index === this.buffer.length - 1) {
        // Might be the first half of a CRLF split across chunks: take the line, remember the CR.
        this.sawCr = true;
      }
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      const msg = this.line(line);
      if (msg) out.push(msg);
    }
    return out;
  }

  private line(line: string): SseMessage | null {
    if (line === "") {
      if (this.data.length === 0) {
        this.eventType = "";
        return null;
      }
      const msg: SseMessage = { id: this.lastEventId, event: this.eventType || "message", data: this.data.join("\n") };
      this.data = [];
      this.eventType = "";
      return msg;
    }
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "data":
        this.data.push(value);
        break;
      case "event":
        this.eventType = value;
        break;
      case "id":
        if (!value.includes("\0")) this.lastEventId = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        break;
    }
    return null;
  }
}

export type StreamState = "connecting" | "open" | "reconnecting" | "closed";

export interface StreamOptions<T> {
  url: string;
  /** Parses one message's data; a message it rejects (throws) is skipped. */
  parse: (msg: SseMessage) => T;
  onEvent: (value: T, msg: SseMessage) => void;
  /** True for the event after which the stream is finished for good. */
  isTerminal: (value: T, msg: SseMessage) => boolean;
  onState?: (state: StreamState, detail?: string) => void;
  /** Resume after this id on the first connection too. */
  lastEventId?: string | null;
  fetchImpl?: typeof fetch;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** First reconnect delay when the server sent no `retry:` (ms). */
  retryMs?: number;
  maxRetryMs?: number;
  /** Consecutive failed connections before giving up. */
  maxFailures?: number;
}

export interface EventStream {
  close: () => void;
  /** Resolves when the stream has closed for good. */
  readonly done: Promise<"terminal" | "closed" | "failed">;
}

const defaultSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    });
  });

/** Status codes after which reconnecting cannot help. */
function isFatal(status: number): boolean {
  return status === 401 || status === 403 || status === 404 || status === 410;
}

export function openEventStream<T>(opts: StreamOptions<T>): EventStream {
  const fetchImpl = opts.fetchImpl ?? fetch.bind(globalThis);
  const sleep = opts.sleep ?? defaultSleep;
  const maxRetry = opts.maxRetryMs ?? 30_000;
  const maxFailures = opts.maxFailures ?? 8;
  const controller = new AbortController();
  let lastEventId = opts.lastEventId ?? null;
  let serverRetry: number | null = null;
  let failures = 0;

  const run = async (): Promise<"terminal" | "closed" | "failed"> => {
    let first = true;
    while (!controller.signal.aborted) {
      opts.onState?.(first ? "connecting" : "reconnecting");
      first = false;
      let gotEvent = false;
      try {
        const headers: Record<string, string> = { accept: "text/event-stream" };
        if (lastEventId !== null) headers["last-event-id"] = lastEventId;
        const res = await fetchImpl(opts.url, {
          headers,
          credentials: "same-origin",
          cache: "no-store",
          signal: controller.signal,
        });
        if (!res.ok || !res.body) {
          if (isFatal(res.status)) {
            opts.onState?.("closed", `HTTP ${res.status}`);
            return "failed";
          }
          throw new Error(`HTTP ${res.status}`);
        }
        opts.onState?.("open");
        const parser = new SseParser();
        parser.lastEventId = lastEventId;
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        for (;;) {
          const { value, done } = await reader.read();
          const chunk = done ? decoder.decode() : decoder.decode(value, { stream: true });
          for (const msg of parser.push(chunk)) {
            lastEventId = msg.id;
            gotEvent = true;
            let parsed: T;
            try {
              parsed = opts.parse(msg);
            } catch {
              continue;
            }
            opts.onEvent(parsed, msg);
            if (opts.isTerminal(parsed, msg)) {
              controller.abort();
              opts.onState?.("closed", "terminal");
              return "terminal";
            }
          }
          if (parser.retryMs !== null) serverRetry = parser.retryMs;
          if (done) break;
        }
        // The server ended the stream before a terminal event (its time limit): resume. A stream
        // that ended without a single event counts as a failure, so it cannot spin forever.
        failures = gotEvent ? 0 : failures + 1;
        if (failures >= maxFailures) {
          opts.onState?.("closed", "the stream keeps ending without events");
          return "failed";
        }
      } catch (err) {
        if (controller.signal.aborted) break;
        if (!gotEvent) failures += 1;
        else failures = 1;
        if (failures >= maxFailures) {
          opts.onState?.("closed", err instanceof Error ? err.message : "connection failed");
          return "failed";
        }
      }
      const base = serverRetry ?? opts.retryMs ?? 2000;
      const wait = Math.min(maxRetry, base * 2 ** Math.max(0, failures - 1));
      await sleep(wait, controller.signal);
    }
    opts.onState?.("closed");
    return "closed";
  };

  const done = run();
  return {
    close: () => controller.abort(),
    done,
  };
}
