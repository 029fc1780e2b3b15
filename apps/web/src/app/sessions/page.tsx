import type { Metadata } from "next";
import Link from "next/link";
import { ErrorBox } from "@/components/ErrorBox";
import { SessionPanel } from "@/components/SessionPanel";
import { StartSessionButton } from "@/components/StartSessionButton";
import { StatusBadge } from "@/components/StatusBadge";
import { formatDate } from "@/lib/format";
import { apiGet, requireMe } from "@/lib/server-api";
import type { Session } from "@/lib/types";

export const metadata: Metadata = { title: "Sessions" };

const FILTERS = ["", "starting", "running", "stopping", "stopped", "error"] as const;

type Props = { searchParams: Promise<{ status?: string; cursor?: string }> };

export default async function SessionsPage({ searchParams }: Props) {
  await requireMe("/sessions");
  const sp = await searchParams;
  const status = (FILTERS as readonly string[]).includes(sp.status ?? "") ? (sp.status ?? "") : "";
  const cursor = typeof sp.cursor === "string" ? sp.cursor : "";
  const q = new URLSearchParams();
  if (status) q.set("status", status);
  if (cursor) q.set("cursor", cursor);
  const [current, history] = await Promise.all([
    apiGet<{ session: Session | null }>("/api/v1/sessions/current"),
    apiGet<Session[]>(`/api/v1/sessions${q.size ? `?${q}` : ""}`),
  ]);
  const session = current.ok ? current.data.session : null;
  const page = (c: string) => {
    const p = new URLSearchParams();
    if (status) p.set("status", status);
    if (c) p.set("cursor", c);
    return p.size ? `/sessions?${p}` : "/sessions";
  };

  return (
    <>
      <h1>Sessions</h1>
      <h2>Current session</h2>
      {current.ok ? <SessionPanel initial={session} /> : <ErrorBox problem={current.problem} />}

      <h2>History</h2>
      <form method="get" action="/sessions" className="row" data-testid="session-filter-form" style={{ marginBottom: "0.75rem" }}>
        <label htmlFor="status-filter">Status</label>
        <select id="status-filter" name="status" defaultValue={status} data-testid="session-status-filter">
          {FILTERS.map((f) => (
            <option key={f} value={f}>
              {f || "any"}
            </option>
          ))}
        </select>
        <button type="submit" className="btn small secondary" data-testid="session-filter-apply">
          Filter
        </button>
      </form>
      {history.ok ? (
        history.data.length === 0 ? (
          <p className="muted" data-testid="session-history-empty">
            No sessions{status ? ` with status ${status}` : ""}.
          </p>
        ) : (
          <>
            <div className="table-wrap">
              <table data-testid="session-history">
                <thead>
                  <tr>
                    <th scope="col">Session</th>
                    <th scope="col">Status</th>
                    <th scope="col" className="num">GPU</th>
                    <th scope="col">Created</th>
                    <th scope="col">Stopped</th>
                    <th scope="col">Note</th>
                    <th scope="col">
                      <span className="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {history.data.map((s) => (
                    <tr key={s.id} data-testid="session-history-row" data-status={s.status} data-session-id={s.id}>
                      <td className="mono">{s.slug}</td>
                      <td>
                        <StatusBadge status={s.status} testId="session-history-status" />
                      </td>
                      <td className="num">{s.gpu_id ?? "—"}</td>
                      <td>{formatDate(s.created_at)}</td>
                      <td>{formatDate(s.stopped_at)}</td>
                      <td className="small">{s.error_message ?? ""}</td>
                      <td>
                        {(s.status === "stopped" || s.status === "error") && (
                          <StartSessionButton
                            fromSessionId={s.id}
                            label="Continue from this session"
                            className="btn small secondary"
                            testId="continue-session"
                          />
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <nav className="pager" aria-label="History pages">
              {cursor && <Link href={page("")}>Newest</Link>}
              {history.meta.has_more && history.meta.next_cursor && (
                <Link href={page(history.meta.next_cursor)} data-testid="session-history-next">
                  Older
                </Link>
              )}
            </nav>
          </>
        )
      ) : (
        <ErrorBox problem={history.problem} />
      )}
    </>
  );
}
