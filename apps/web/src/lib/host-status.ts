// Formatting for the admin page's host panel (GET /api/v1/status); pure, so it is unit-tested.
import type { HostGpu } from "./types";

/** "running 2, stopped 5" from a by-status count map: zero counts and `total` left out. */
export function countsLine(counts: Record<string, number>): string {
  return (
    Object.entries(counts)
      .filter(([k, v]) => k !== "total" && v > 0)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ") || "none"
  );
}

/** "3 d 4 h", "2 h 5 min", "4 min 10 s", "12 s". */
export function formatDuration(seconds: number | null | undefined): string {
  if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) return "—";
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${m} min`;
  if (m > 0) return `${m} min ${s % 60} s`;
  return `${s} s`;
}

/** Enabled GPUs that no session holds. */
export function freeGpuCount(gpus: readonly HostGpu[]): number {
  return gpus.filter((g) => g.enabled && g.session_id === null).length;
}

/** "12 / 80 GiB" style memory of a GPU from MiB figures, "—" when unknown. */
export function gpuMemory(g: Pick<HostGpu, "memory_used_mib" | "memory_total_mib">): string {
  const gib = (mib: number) => (mib / 1024).toFixed(mib >= 10240 ? 0 : 1);
  if (g.memory_used_mib === null && g.memory_total_mib === null) return "—";
  const used = g.memory_used_mib === null ? "?" : gib(g.memory_used_mib);
  const total = g.memory_total_mib === null ? "?" : gib(g.memory_total_mib);
  return `${used} / ${total} GiB`;
}

/** A share as "37%", "—" when either side is unknown or the whole is 0. */
export function share(part: number | null | undefined, whole: number | null | undefined): string {
  if (typeof part !== "number" || typeof whole !== "number" || whole <= 0) return "—";
  return `${Math.round((100 * part) / whole)}%`;
}
