import type { Metadata } from "next";
import Link from "next/link";
import { ActionButton } from "@/components/admin/ActionButton";
import { UserRow } from "@/components/admin/UserRow";
import { ErrorBox } from "@/components/ErrorBox";
import { StatusBadge } from "@/components/StatusBadge";
import { formatDate, formatScore } from "@/lib/format";
import { loadHostStatus } from "@/lib/host-status";
import { apiGet, requireMe } from "@/lib/server-api";
import type { AdminUser, Gpu, Session, Submission } from "@/lib/types";

export const metadata: Metadata = { title: "Admin" };

const SESSION_FILTERS = ["starting,running,stopping", "", "stopped", "error"] as const;
const QUEUE_FILTERS = ["queued,scoring,failed", "queued", "scoring", "failed", "scored"] as const;

type Props = { searchParams: Promise<{ sessions?: string; queue?: string; users?: string }> };

export default async function AdminPage({ searchParams }: Props) {
  const me = await requireMe("/admin");
  if (me.role !== "admin") {
    return (
      <>
        <h1>Admin</h1>
        <ErrorBox problem={{ status: 403, code: "admin_required", detail: "This page is for administrators." }} />
      </>
    );
  }
  const sp = await searchParams;
  const sessFilter = (SESSION_FILTERS as readonly string[]).includes(sp.sessions ?? "x") ? (sp.sessions ?? "") : SESSION_FILTERS[0];
  const queueFilter = (QUEUE_FILTERS as readonly string[]).includes(sp.queue ?? "") ? (sp.queue ?? "") : QUEUE_FILTERS[0];
  const usersCursor = typeof sp.users === "string" ? sp.users : "";
  const uq = new URLSearchParams({ limit: "100" });
  if (usersCursor) uq.set("cursor", usersCursor);
  const sq = new URLSearchParams({ limit: "100" });
  if (sessFilter) sq.set("status", sessFilter);

  const [users, sessions, gpus, queue, host] = await Promise.all([
    apiGet<AdminUser[]>(`/api/v1/admin/users?${uq}`),
    apiGet<Session[]>(`/api/v1/admin/sessions?${sq}`),
    apiGet<Gpu[]>("/api/v1/admin/gpus"),
    apiGet<Submission[]>(`/api/v1/admin/submissions?status=${encodeURIComponent(queueFilter)}&limit=100`),
    loadHostStatus(),
  ]);
  const emailOf = new Map(users.ok ? users.data.map((u) => [u.user_id, u.email]) : []);

  return (
    <>
      <h1>Admin</h1>
      <nav aria-label="Admin sections" className="row small">
        <a href="#host">Host</a> · <a href="#gpus">GPUs</a> · <a href="#sessions">Sessions</a> · <a href="#queue">Scoring queue</a> ·{" "}
        <a href="#users">Users</a>
      </nav>

      <h2 id="host">Host status</h2>
      <div className="grid" data-testid="admin-host">
        <div className="card">
          <h3>Readiness</h3>
          {host.ready ? (
            <>
              <p>
                <StatusBadge status={host.ready.status === 200 ? "ready" : "not_ready"} testId="admin-ready" />
                {host.ready.status === 200 ? "" : ` HTTP ${host.ready.status}`}
              </p>
              <dl className="facts small">
                {Object.entries(host.ready.checks).map(([k, v]) => (
                  <div key={k} style={{ display: "contents" }}>
                    <dt>{k}</dt>
                    <dd data-testid={`admin-check-${k}`}>{v}</dd>
                  </div>
                ))}
              </dl>
              {host.ready.errors.length > 0 && <p className="small">{host.ready.errors.join("; ")}</p>}
            </>
          ) : (
            <p className="alert alert-error">The API could not be reached.</p>
          )}
        </div>
        <div className="card">
          <h3>Metrics</h3>
          {host.metrics ? (
            <dl className="facts small" data-testid="admin-metrics">
              <dt>Sessions</dt>
              <dd>
                {Object.entries(host.metrics.sessions)
                  .map(([k, v]) => `${k} ${v}`)
                  .join(", ") || "—"}
              </dd>
              <dt>GPUs free</dt>
              <dd data-testid="admin-gpus-free">{host.metrics.gpusFree ?? "—"}</dd>
              <dt>Scoring queue</dt>
              <dd>
                {Object.entries(host.metrics.queue)
                  .map(([k, v]) => `${k} ${v}`)
                  .join(", ") || "—"}
              </dd>
              <dt>Oldest queued</dt>
              <dd>{host.metrics.oldestQueuedSeconds === null ? "—" : `${host.metrics.oldestQueuedSeconds.toFixed(1)} s`}</dd>
              <dt>Recovery loop</dt>
              <dd>
                {host.metrics.recoveryLease === 1 ? "this API holds the lease" : "standby"}; passes ok {host.metrics.recoveryPasses.ok ?? "—"}, failed{" "}
                {host.metrics.recoveryPasses.failed ?? "—"}
              </dd>
            </dl>
          ) : (
            <p className="small muted" data-testid="admin-metrics-unavailable">
              /metrics is not readable from the web server (HTTP {host.metricsStatus || "unreachable"}); add its address to the
              API&apos;s METRICS_ALLOW to show it here.
            </p>
          )}
        </div>
      </div>

      <h2 id="gpus">GPUs</h2>
      {gpus.ok ? (
        <div className="table-wrap">
          <table data-testid="admin-gpus">
            <thead>
              <tr>
                <th scope="col" className="num">Id</th>
                <th scope="col">Name</th>
                <th scope="col">State</th>
                <th scope="col">Session</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {gpus.data.map((g) => (
                <tr key={g.id} data-testid="admin-gpu-row" data-gpu-id={g.id} data-enabled={g.enabled ? "true" : "false"}>
                  <td className="num">{g.id}</td>
                  <td>
                    {g.name}
                    {g.uuid && <div className="muted small mono">{g.uuid}</div>}
                  </td>
                  <td>
                    <StatusBadge status={g.enabled ? "enabled" : "disabled"} testId="admin-gpu-state" />
                  </td>
                  <td className="mono small">{g.session_id ?? "—"}</td>
                  <td>
                    <ActionButton
                      path={`/admin/gpus/${g.id}`}
                      method="PATCH"
                      json={{ enabled: !g.enabled }}
                      label={g.enabled ? "Disable" : "Enable"}
                      ariaLabel={`${g.enabled ? "Disable" : "Enable"} GPU ${g.id}`}
                      testId="admin-gpu-toggle"
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <ErrorBox problem={gpus.problem} />
      )}

      <h2 id="sessions">Sessions</h2>
      <form method="get" action="/admin#sessions" className="row" style={{ marginBottom: "0.75rem" }}>
        <input type="hidden" name="queue" value={queueFilter} />
        <label htmlFor="admin-session-filter">Status</label>
        <select id="admin-session-filter" name="sessions" defaultValue={sessFilter} data-testid="admin-session-filter">
          {SESSION_FILTERS.map((f) => (
            <option key={f} value={f}>
              {f === "starting,running,stopping" ? "active" : f || "any"}
            </option>
          ))}
        </select>
        <button type="submit" className="btn small secondary">
          Filter
        </button>
      </form>
      {sessions.ok ? (
        sessions.data.length === 0 ? (
          <p className="muted" data-testid="admin-sessions-empty">
            No sessions.
          </p>
        ) : (
          <div className="table-wrap">
            <table data-testid="admin-sessions">
              <thead>
                <tr>
                  <th scope="col">Session</th>
                  <th scope="col">User</th>
                  <th scope="col">Status</th>
                  <th scope="col" className="num">GPU</th>
                  <th scope="col">Created</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {sessions.data.map((s) => (
                  <tr key={s.id} data-testid="admin-session-row" data-session-id={s.id} data-status={s.status}>
                    <td className="mono">{s.slug}</td>
                    <td>{emailOf.get(s.user_id) ?? <span className="mono small">{s.user_id}</span>}</td>
                    <td>
                      <StatusBadge status={s.status} testId="admin-session-status" />
                    </td>
                    <td className="num">{s.gpu_id ?? "—"}</td>
                    <td>{formatDate(s.created_at)}</td>
                    <td>
                      {(s.status === "starting" || s.status === "running") && (
                        <ActionButton
                          path={`/admin/sessions/${encodeURIComponent(s.id)}/stop`}
                          label="Stop"
                          busyLabel="Stopping…"
                          className="btn small danger"
                          ariaLabel={`Stop session ${s.slug}`}
                          testId="admin-session-stop"
                        />
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      ) : (
        <ErrorBox problem={sessions.problem} />
      )}

      <h2 id="queue">Scoring queue</h2>
      <form method="get" action="/admin#queue" className="row" style={{ marginBottom: "0.75rem" }}>
        <input type="hidden" name="sessions" value={sessFilter} />
        <label htmlFor="admin-queue-filter">Status</label>
        <select id="admin-queue-filter" name="queue" defaultValue={queueFilter} data-testid="admin-queue-filter">
          {QUEUE_FILTERS.map((f) => (
            <option key={f} value={f}>
              {f}
            </option>
          ))}
        </select>
        <button type="submit" className="btn small secondary">
          Filter
        </button>
      </form>
      {queue.ok ? (
        queue.data.length === 0 ? (
          <p className="muted" data-testid="admin-queue-empty">
            Nothing {queueFilter.replace(/,/g, ", ")}.
          </p>
        ) : (
          <div className="table-wrap">
            <table data-testid="admin-queue">
              <thead>
                <tr>
                  <th scope="col">Created</th>
                  <th scope="col">Competition</th>
                  <th scope="col">User</th>
                  <th scope="col">File</th>
                  <th scope="col">Status</th>
                  <th scope="col" className="num">Attempts</th>
                  <th scope="col">Lease</th>
                  <th scope="col" className="num">Score</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {queue.data.map((s) => (
                  <tr key={s.id} data-testid="admin-queue-row" data-id={s.id} data-status={s.status}>
                    <td>{formatDate(s.created_at)}</td>
                    <td>
                      <Link href={`/competitions/${encodeURIComponent(s.competition_slug)}`}>{s.competition_slug}</Link>
                    </td>
                    <td>{emailOf.get(s.user_id) ?? <span className="mono small">{s.user_id}</span>}</td>
                    <td>{s.filename}</td>
                    <td>
                      <StatusBadge status={s.status} testId="admin-queue-status" />
                      {s.error && <div className="small">{s.error}</div>}
                    </td>
                    <td className="num">{s.attempts ?? "—"}</td>
                    <td className="small mono">{s.lease_owner ?? "—"}</td>
                    <td className="num">{formatScore(s.official_score?.primary_score)}</td>
                    <td>
                      <ActionButton
                        path={`/admin/submissions/${encodeURIComponent(s.id)}/score`}
                        label="Re-score"
                        busyLabel="Queuing…"
                        ariaLabel={`Re-score ${s.filename}`}
                        testId="admin-queue-rescore"
                      />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      ) : (
        <ErrorBox problem={queue.problem} />
      )}

      <h2 id="users">Users</h2>
      {users.ok ? (
        <>
          <div className="table-wrap">
            <table data-testid="admin-users">
              <thead>
                <tr>
                  <th scope="col">User</th>
                  <th scope="col">Role</th>
                  <th scope="col">Session cap</th>
                  <th scope="col" className="num">Active sessions</th>
                  <th scope="col">Created</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {users.data.map((u) => (
                  <UserRow key={u.user_id} user={u} isSelf={u.user_id === me.user_id} />
                ))}
              </tbody>
            </table>
          </div>
          <nav className="pager" aria-label="User pages">
            {usersCursor && <Link href="/admin#users">First page</Link>}
            {users.meta.has_more && users.meta.next_cursor && (
              <Link href={`/admin?users=${encodeURIComponent(users.meta.next_cursor)}#users`}>Next page</Link>
            )}
          </nav>
        </>
      ) : (
        <ErrorBox problem={users.problem} />
      )}
    </>
  );
}
