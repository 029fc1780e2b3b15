"use client";

import { useRouter } from "next/navigation";
import { useEffect, useState } from "react";
import { ErrorBox } from "@/components/ErrorBox";
import { StatusBadge } from "@/components/StatusBadge";
import { apiData, apiRequest } from "@/lib/client-api";
import { formatDate } from "@/lib/format";
import { ApiError, toProblem, type Problem } from "@/lib/problem";
import { followSession, statusOfEvent } from "@/lib/session-events";
import { sessionUrl } from "@/lib/session-host";
import type { StreamState } from "@/lib/sse";
import { isActiveSession, type Session, type SessionEvent } from "@/lib/types";

/**
 * The current session: status, GPU, the "Open VS Code" link, stop, and the lifecycle events live
 * from the event stream while it is starting, running or stopping. Without one: a start button.
 */
export function SessionPanel({ initial }: { initial: Session | null }) {
  const router = useRouter();
  const [session, setSession] = useState<Session | null>(initial);
  const [events, setEvents] = useState<SessionEvent[]>([]);
  const [stream, setStream] = useState<StreamState | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const [href, setHref] = useState<string | null>(initial?.url ?? null);

  const id = session?.id ?? null;
  const active = session ? isActiveSession(session.status) : false;

  // The page re-renders its server data (router.refresh) after a start or an end. A different
  // current session (started elsewhere, or "continue from") replaces the card's; a session that has
  // ended stays on the card with its events until the next start, even though the server's
  // current session is then null.
  const initialId = initial?.id ?? null;
  useEffect(() => {
    if (initial && initialId !== id) {
      setSession(initial);
      setEvents([]);
    }
    // Only a change of the server's current session matters here.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [initialId]);

  useEffect(() => {
    if (!session) return;
    setHref(sessionUrl(session.slug, window.location, session.url));
  }, [session]);

  useEffect(() => {
    if (!id || !active) return;
    setEvents([]);
    const refresh = () =>
      apiData<Session>(`/sessions/${encodeURIComponent(id)}`)
        .then((s) => setSession(s))
        .catch(() => undefined);
    const s = followSession(id, {
      onEvent: (e) => {
        setEvents((prev) => (prev.some((p) => p.id === e.id) ? prev : [...prev, e]));
        const status = statusOfEvent(e);
        if (status) {
          setSession((cur) => (cur && cur.id === id ? { ...cur, status } : cur));
          if (status === "running" || status === "stopped" || status === "error") {
            // Fresh fields (started_at, error_message) for the card, fresh history for the page.
            void refresh();
            router.refresh();
          }
        }
      },
      onState: (st) => setStream(st),
    });
    return () => s.close();
    // Re-subscribe only when the session changes or becomes active again.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [id, active]);

  async function start() {
    setBusy(true);
    setProblem(null);
    try {
      const r = await apiData<{ session: Session }>("/sessions?wait=false", { method: "POST", json: {} });
      setEvents([]);
      setSession(r.session);
      router.refresh();
    } catch (err) {
      setProblem(err instanceof ApiError ? err.problem : toProblem(0, null));
    } finally {
      setBusy(false);
    }
  }

  async function stop() {
    if (!session) return;
    setBusy(true);
    setProblem(null);
    try {
      await apiRequest(`/sessions/${encodeURIComponent(session.id)}/stop`, { method: "POST" });
      setSession((cur) => (cur && isActiveSession(cur.status) && cur.status !== "stopping" ? { ...cur, status: "stopping" } : cur));
    } catch (err) {
      setProblem(err instanceof ApiError ? err.problem : toProblem(0, null));
    } finally {
      setBusy(false);
    }
  }

  if (!session) {
    return (
      <div className="card" data-testid="session-card" data-status="none">
        <p>No session is running. A session gives you one GPU and VS Code in the browser, with your own workspace.</p>
        <button type="button" className="btn" onClick={start} disabled={busy} data-testid="start-session">
          {busy ? "Starting…" : "Start a session"}
        </button>
        <div style={{ marginTop: "0.75rem" }}>
          <ErrorBox problem={problem} testId="session-error" />
        </div>
      </div>
    );
  }

  const running = session.status === "running";
  return (
    <div className="card" data-testid="session-card" data-status={session.status} data-session-id={session.id}>
      <div className="spread">
        <h3 style={{ margin: 0 }}>
          Session <span className="mono">{session.slug}</span>
        </h3>
        <StatusBadge status={session.status} testId="session-status" />
      </div>
      <dl className="facts" style={{ marginTop: "0.75rem" }}>
        <dt>GPU</dt>
        <dd data-testid="session-gpu">{session.gpu_id ?? "—"}</dd>
        <dt>Started</dt>
        <dd>{formatDate(session.started_at)}</dd>
        {session.stopped_at && (
          <>
            <dt>Stopped</dt>
            <dd>{formatDate(session.stopped_at)}</dd>
          </>
        )}
        {session.error_message && (
          <>
            <dt>Error</dt>
            <dd data-testid="session-error-message">{session.error_message}</dd>
          </>
        )}
      </dl>
      <div className="row" style={{ marginTop: "1rem" }}>
        {running && href ? (
          <a className="btn" href={href} target="_blank" rel="noopener" data-testid="open-vscode">
            Open VS Code
          </a>
        ) : (
          <span className="btn" aria-disabled="true" data-testid="open-vscode-disabled">
            Open VS Code
          </span>
        )}
        {active ? (
          <button
            type="button"
            className="btn danger"
            onClick={stop}
            disabled={busy || session.status === "stopping"}
            data-testid="stop-session"
          >
            {session.status === "stopping" ? "Stopping…" : "Stop"}
          </button>
        ) : (
          <button type="button" className="btn secondary" onClick={start} disabled={busy} data-testid="start-session">
            Start a new session
          </button>
        )}
      </div>
      <div style={{ marginTop: "0.75rem" }}>
        <ErrorBox problem={problem} testId="session-error" />
      </div>
      {(active || events.length > 0) && (
        <div style={{ marginTop: "0.75rem" }}>
          <div className="small muted" data-testid="session-stream" data-state={stream ?? "idle"}>
            {stream === "reconnecting" ? "Reconnecting to live updates…" : "Live progress"}
          </div>
          <ol className="events" aria-live="polite" data-testid="session-events">
            {events.map((e) => (
              <li key={e.id} data-testid="session-event" data-kind={e.kind}>
                <span className="muted small">{formatDate(e.at, { seconds: true })}</span> — <strong>{e.kind}</strong>: {e.message}
              </li>
            ))}
          </ol>
        </div>
      )}
    </div>
  );
}
