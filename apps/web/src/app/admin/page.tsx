import type { Metadata } from "next";
import Link from "next/link";
import { ActionButton } from "@/components/admin/ActionButton";
import { UserRow } from "@/components/admin/UserRow";
import { ErrorBox } from "@/components/ErrorBox";
import { StatusBadge } from "@/components/StatusBadge";
import { formatBytes, formatDate, formatScore } from "@/lib/format";
import { countsLine, formatDuration, freeGpuCount, gpuMemory, share } from "@/lib/host-status";
import { apiGet, requireMe } from "@/lib/server-api";
import type { AdminUser, Gpu, HostGpu, HostStatus, Session, Submission } from "@/lib/types";

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

  const [users, sessions, gpus, queue, status] = await Promise.all([
    apiGet<AdminUser[]>(`/api/v1/admin/users?${uq}`),
    apiGet<Session[]>(`/api/v1/admin/sessions?${sq}`),
    apiGet<Gpu[]>("/api/v1/admin/gpus"),
    apiGet<Submission[]>(`/api/v1/admin/submissions?status=${encodeURIComponent(queueFilter)}&limit=100`),
    apiGet<HostStatus>("/api/v1/status"),
  ]);
  const live = new Map(status.ok && status.data.gpus ? status.data.gpus.map((g) => [g.id, g]) : []);
  const emailOf = new Map(users.ok ? users.data.map((u) => [u.user_id, u.email]) : []);

  return (
    <>
      <h1>Admin</h1>
      <nav aria-label="Admin sections" className="row small">
        <a href="#host">Host</a> · <a href="#gpus">GPUs</a> · <a href="#sessions">Sessions</a> · <a href="#queue">Scoring queue</a> ·{" "}
        <a href="#users">Users</a>
      </nav>

      <h2 id="host">Host status</h2>
      {status.ok ? (
        <HostPanel status={status.data} />
      ) : (
        <div data-testid="admin-host-error">
          <ErrorBox problem={status.problem} />
        </div>
      )}

      <h2 id="gpus">GPUs</h2>
      {gpus.ok ? (
        <div className="table-wrap">
          <table data-testid="admin-gpus">
            <thead>
              <tr>
                <th scope="col" className="num">Id</th>
                <th scope="col">Name</th>
                <th scope="col">State</th>
                <th scope="col" className="num">Utilization</th>
                <th scope="col" className="num">Memory</th>
                <th scope="col" className="num">Temperature</th>
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
                  <LiveGpuCells gpu={live.get(g.id)} />
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

/** Utilization, memory and temperature of a GPU from the host dashboard ("—" when unknown). */
function LiveGpuCells({ gpu }: { gpu: HostGpu | undefined }) {
  return (
    <>
      <td className="num" data-testid="admin-gpu-util">
        {gpu?.utilization_percent != null ? `${gpu.utilization_percent}%` : "—"}
      </td>
      <td className="num" data-testid="admin-gpu-memory">
        {gpu ? gpuMemory(gpu) : "—"}
      </td>
      <td className="num" data-testid="admin-gpu-temp">
        {gpu?.temperature_c != null ? `${gpu.temperature_c} °C` : "—"}
      </td>
    </>
  );
}

/** The host panel: readiness, the host and this API process, disks, pools and platform counts. */
function HostPanel({ status }: { status: HostStatus }) {
  const { host, pools, counts } = status;
  const mem = host.memory_total_bytes !== null && host.memory_available_bytes !== null ? host.memory_total_bytes - host.memory_available_bytes : null;
  const load = [host.load_1m, host.load_5m, host.load_15m].map((v) => (v === null ? "—" : v.toFixed(2))).join(" / ");
  return (
    <div className="grid" data-testid="admin-host" data-generated-at={status.generated_at}>
      <div className="card">
        <h3>Readiness</h3>
        <p>
          <StatusBadge status={pools.health.status} testId="admin-ready" />
        </p>
        <dl className="facts small">
          {Object.entries(pools.health.checks).map(([k, v]) => (
            <div key={k} style={{ display: "contents" }}>
              <dt>{k}</dt>
              <dd data-testid={`admin-check-${k}`}>{v}</dd>
            </div>
          ))}
        </dl>
      </div>
      <div className="card">
        <h3>Host</h3>
        <dl className="facts small" data-testid="admin-host-facts">
          <dt>CPUs</dt>
          <dd data-testid="admin-host-cpus">{host.cpu_count}</dd>
          <dt>Load (1 / 5 / 15 min)</dt>
          <dd data-testid="admin-host-load">{load}</dd>
          <dt>Memory used</dt>
          <dd data-testid="admin-host-memory">
            {formatBytes(mem)} of {formatBytes(host.memory_total_bytes)} ({share(mem, host.memory_total_bytes)})
          </dd>
          <dt>API process</dt>
          <dd data-testid="admin-host-process">
            pid {host.process.pid}, {formatBytes(host.process.rss_bytes)} resident, up {formatDuration(host.process.uptime_seconds)} (v
            {host.process.version})
          </dd>
          <dt>GPUs</dt>
          <dd>
            <span data-testid="admin-gpus-free">{status.gpus ? freeGpuCount(status.gpus) : "—"}</span> free of {status.gpus?.length ?? "—"}; nvidia-smi:{" "}
            <span data-testid="admin-nvidia-smi">{status.nvidia_smi}</span> ({status.gpu_discovery} discovery)
          </dd>
        </dl>
      </div>
      <div className="card">
        <h3>Disks</h3>
        <dl className="facts small">
          {host.disks.map((d) => (
            <div key={d.name} style={{ display: "contents" }}>
              <dt>{d.name}</dt>
              <dd data-testid={`admin-disk-${d.name}`} title={d.path ?? undefined}>
                {d.error !== null
                  ? `unavailable: ${d.error}`
                  : `${formatBytes(d.available_bytes)} free of ${formatBytes(d.total_bytes)} (${share(d.available_bytes, d.total_bytes)})`}
              </dd>
            </div>
          ))}
        </dl>
      </div>
      <div className="card">
        <h3>Pools</h3>
        <dl className="facts small">
          <dt>Database connections</dt>
          <dd data-testid="admin-pool-db">
            {pools.database.in_use} in use of {pools.database.size}
          </dd>
          <dt>Blocking pool</dt>
          <dd data-testid="admin-pool-blocking">
            {pools.blocking.queued ?? "—"} requests on {pools.blocking.threads} threads (queue limit {pools.blocking.queue_max})
          </dd>
        </dl>
      </div>
      <div className="card">
        <h3>Platform</h3>
        {counts ? (
          <dl className="facts small" data-testid="admin-counts">
            <dt>Sessions</dt>
            <dd data-testid="admin-count-sessions">{countsLine(counts.sessions)}</dd>
            <dt>Users</dt>
            <dd data-testid="admin-count-users">
              {counts.users.total} ({counts.users.admins} admin{counts.users.admins === 1 ? "" : "s"})
            </dd>
            <dt>Competitions</dt>
            <dd data-testid="admin-count-competitions">{countsLine(counts.competitions)}</dd>
            <dt>Submissions</dt>
            <dd data-testid="admin-count-submissions">{countsLine(counts.submissions)}</dd>
            <dt>Datasets</dt>
            <dd data-testid="admin-count-datasets">{counts.datasets}</dd>
          </dl>
        ) : (
          <p className="small muted" data-testid="admin-counts-unavailable">
            Counts are unavailable while the database is unreachable.
          </p>
        )}
      </div>
    </div>
  );
}
