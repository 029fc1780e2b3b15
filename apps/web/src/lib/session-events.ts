// Following a session's lifecycle from `GET /api/v1/sessions/{id}/events`.
import { openEventStream, type EventStream, type SseMessage, type StreamOptions, type StreamState } from "./sse";
import { TERMINAL_SESSION_STATUSES, type SessionEvent, type SessionStatus } from "./types";

export function parseSessionEvent(msg: SseMessage): SessionEvent {
  const raw = JSON.parse(msg.data) as Partial<SessionEvent>;
  if (typeof raw !== "object" || raw === null) throw new Error("bad event");
  return {
    id: typeof raw.id === "number" ? raw.id : Number(msg.id ?? 0),
    at: typeof raw.at === "string" ? raw.at : "",
    kind: typeof raw.kind === "string" ? raw.kind : msg.event,
    message: typeof raw.message === "string" ? raw.message : "",
  };
}

export function isTerminalKind(kind: string): boolean {
  return (TERMINAL_SESSION_STATUSES as readonly string[]).includes(kind);
}

const STATUSES: readonly string[] = ["starting", "running", "stopping", "stopped", "error"];

/** The status a lifecycle event puts the session in, if it is a status change. */
export function statusOfEvent(e: SessionEvent): SessionStatus | null {
  return STATUSES.includes(e.kind) ? (e.kind as SessionStatus) : null;
}

export function followSession(
  sessionId: string,
  handlers: {
    onEvent: (e: SessionEvent) => void;
    onState?: (s: StreamState, detail?: string) => void;
  },
  extra: Partial<Pick<StreamOptions<SessionEvent>, "fetchImpl" | "sleep" | "lastEventId">> = {},
): EventStream {
  return openEventStream<SessionEvent>({
    url: `/api/v1/sessions/${encodeURIComponent(sessionId)}/events`,
    parse: parseSessionEvent,
    onEvent: (e) => handlers.onEvent(e),
    isTerminal: (e) => isTerminalKind(e.kind),
    onState: handlers.onState,
    ...extra,
  });
}
