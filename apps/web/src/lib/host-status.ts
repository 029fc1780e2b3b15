import "server-only";
import { parsePrometheus, pick } from "./metrics";
import { apiText } from "./server-api";

export interface HostStatus {
  ready: { status: number; checks: Record<string, string>; errors: string[] } | null;
  metrics:
    | {
        sessions: Record<string, number>;
        gpusFree: number | null;
        queue: Record<string, number>;
        oldestQueuedSeconds: number | null;
        recoveryLease: number | null;
        recoveryPasses: { ok: number | null; failed: number | null };
      }
    | null;
  metricsStatus: number;
}

/** `/readyz` and `/metrics` of the API (the metrics only when the API lets the web read them). */
export async function loadHostStatus(): Promise<HostStatus> {
  const [readyz, metrics] = await Promise.all([apiText("/readyz"), apiText("/metrics")]);
  let ready: HostStatus["ready"] = null;
  if (readyz.status !== 0) {
    try {
      const body = JSON.parse(readyz.text) as {
        checks?: Record<string, string>;
        errors?: { loc?: unknown[]; msg?: string }[];
        detail?: string;
      };
      ready = {
        status: readyz.status,
        checks: body.checks ?? {},
        errors: (body.errors ?? []).map((e) => e.msg ?? JSON.stringify(e)).concat(body.detail && !body.checks ? [body.detail] : []),
      };
    } catch {
      ready = { status: readyz.status, checks: {}, errors: [readyz.text.slice(0, 200)] };
    }
  }
  let m: HostStatus["metrics"] = null;
  if (metrics.status === 200) {
    const samples = parsePrometheus(metrics.text);
    const byLabel = (name: string, label: string) =>
      Object.fromEntries(samples.filter((s) => s.name === name).map((s) => [s.labels[label] ?? "", s.value]));
    m = {
      sessions: byLabel("medforge_sessions", "status"),
      gpusFree: pick(samples, "medforge_gpus_free"),
      queue: byLabel("medforge_scoring_queue", "status"),
      oldestQueuedSeconds: pick(samples, "medforge_scoring_oldest_queued_seconds"),
      recoveryLease: pick(samples, "medforge_session_recovery_lease"),
      recoveryPasses: {
        ok: pick(samples, "medforge_session_recovery_passes_total", { result: "ok" }),
        failed: pick(samples, "medforge_session_recovery_passes_total", { result: "failed" }),
      },
    };
  }
  return { ready, metrics: m, metricsStatus: metrics.status };
}
