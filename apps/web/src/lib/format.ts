// Formatting shared by server and client components. Dates are formatted in UTC with fixed
// patterns, so the server's HTML and the browser's hydration always agree.

export function formatScore(score: number | null | undefined): string {
  return typeof score === "number" && Number.isFinite(score) ? score.toFixed(5) : "—";
}

export function formatDate(iso: string | null | undefined, opts: { seconds?: boolean } = {}): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, "0");
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}${opts.seconds ? `:${pad(d.getUTCSeconds())}` : ""}`;
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${time} UTC`;
}

export function formatBytes(bytes: number | null | undefined): string {
  if (typeof bytes !== "number" || !Number.isFinite(bytes) || bytes < 0) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return i === 0 ? `${bytes} B` : `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

const METRICS: Record<string, string> = {
  accuracy: "Accuracy",
  roc_auc: "ROC AUC",
  map_iou: "mAP over IoU thresholds",
  mean_iou: "Mean IoU",
};

export function metricLabel(metric: string): string {
  return METRICS[metric] ?? metric;
}

export function metricConvention(higherIsBetter: boolean): string {
  return higherIsBetter ? "higher is better" : "lower is better";
}
