// @vitest-environment jsdom
// @vitest-environment-options {"url": "http://medforge.localhost:8443/sessions"}
import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Session } from "@/lib/types";
import { SessionPanel } from "../SessionPanel";

const refresh = vi.fn();
vi.mock("next/navigation", () => ({ useRouter: () => ({ push: vi.fn(), refresh }) }));

const base: Session = {
  id: "sid-1",
  user_id: "u",
  tier: "public",
  pack_id: "p",
  status: "starting",
  gpu_id: 3,
  slug: "abcd2345",
  url: "http://s-abcd2345.medforge.localhost:8080/",
  workspace: "u/sid-1",
  created_at: "2026-01-01T00:00:00Z",
  started_at: null,
  stopped_at: null,
  error_message: null,
};

/** A controllable event stream body. */
function controlledStream() {
  let ctl!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (ctl = c) });
  const enc = new TextEncoder();
  return {
    response: new Response(body, { status: 200, headers: { "content-type": "text/event-stream" } }),
    send: (id: number, kind: string, message = kind) =>
      ctl.enqueue(enc.encode(`id: ${id}\nevent: ${kind}\ndata: ${JSON.stringify({ id, at: "2026-01-01T00:00:01Z", kind, message })}\n\n`)),
    close: () => ctl.close(),
  };
}

describe("SessionPanel", () => {
  afterEach(() => {
    cleanup();
    vi.unstubAllGlobals();
    refresh.mockClear();
  });

  it("follows a starting session live, links VS Code on the s-<slug> host, and stops it", async () => {
    const stream = controlledStream();
    const calls: { url: string; init?: RequestInit }[] = [];
    let current: Session = { ...base, status: "running", started_at: "2026-01-01T00:00:01Z" };
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string, init?: RequestInit) => {
        calls.push({ url, init });
        if (url.endsWith("/events")) return stream.response;
        if (url === "/api/v1/sessions/sid-1") return Response.json({ data: current });
        if (url === "/api/v1/sessions/sid-1/stop") return Response.json({ data: { message: "Stopping." } }, { status: 202 });
        throw new Error(`unexpected ${url}`);
      }),
    );
    const { rerender } = render(<SessionPanel initial={base} />);
    expect(screen.getByTestId("session-status").textContent).toBe("starting");
    expect(screen.queryByTestId("open-vscode")).toBeNull();
    expect(screen.getByTestId("session-gpu").textContent).toBe("3");

    await act(async () => stream.send(1, "starting", "Allocated GPU 3"));
    await act(async () => stream.send(2, "running", "Running"));
    await waitFor(() => expect(screen.getByTestId("session-status").textContent).toBe("running"));
    expect(screen.getAllByTestId("session-event").map((e) => e.dataset.kind)).toEqual(["starting", "running"]);
    // The page is served from medforge.localhost:8443: the link keeps that host and port (the
    // API's url says 8080), with s-<slug>. in front.
    const link = screen.getByTestId("open-vscode") as HTMLAnchorElement;
    expect(link.href).toBe("http://s-abcd2345.medforge.localhost:8443/");
    expect(link.target).toBe("_blank");

    fireEvent.click(screen.getByTestId("stop-session"));
    await waitFor(() => expect(screen.getByTestId("session-status").textContent).toBe("stopping"));
    const stop = calls.find((c) => c.url === "/api/v1/sessions/sid-1/stop");
    expect(stop?.init?.method).toBe("POST");
    await act(async () => stream.send(3, "stopping", "Stop requested (user)"));
    current = { ...current, status: "stopped", stopped_at: "2026-01-01T00:00:09Z" };
    await act(async () => stream.send(4, "stopped", "Stopped"));
    await waitFor(() => expect(screen.getByTestId("session-card").dataset.status).toBe("stopped"));
    expect(screen.queryByTestId("stop-session")).toBeNull();
    expect(screen.queryByTestId("open-vscode")).toBeNull();
    expect(screen.getByTestId("start-session").textContent).toBe("Start a new session");
    expect(screen.getAllByTestId("session-event").map((e) => e.dataset.kind)).toEqual(["starting", "running", "stopping", "stopped"]);
    // A terminal event re-reads the session and re-renders the page's server data (the history).
    await waitFor(() => expect(refresh).toHaveBeenCalled());
    expect(calls.filter((c) => c.url.endsWith("/events"))).toHaveLength(1);

    // The refreshed page has no current session any more: the ended one stays on the card.
    rerender(<SessionPanel initial={null} />);
    expect(screen.getByTestId("session-card").dataset.status).toBe("stopped");
    expect(screen.getAllByTestId("session-event")).toHaveLength(4);
    // A new current session (e.g. "continue from this session") replaces it.
    rerender(<SessionPanel initial={{ ...base, id: "sid-2", slug: "efgh2345", status: "running" }} />);
    await waitFor(() => expect(screen.getByTestId("session-card").dataset.sessionId).toBe("sid-2"));
    expect(screen.queryAllByTestId("session-event")).toHaveLength(0);
  });

  it("shows the start button and the problem detail when a start is refused", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(async () =>
        Response.json(
          { status: 409, code: "no_gpu_available", detail: "Every GPU is in use; try again later." },
          { status: 409, headers: { "content-type": "application/problem+json" } },
        ),
      ),
    );
    render(<SessionPanel initial={null} />);
    expect(screen.getByTestId("session-card").dataset.status).toBe("none");
    fireEvent.click(screen.getByTestId("start-session"));
    await waitFor(() => expect(screen.getByTestId("session-error").textContent).toBe("Every GPU is in use; try again later."));
  });
});
