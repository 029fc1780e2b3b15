// Geometry of the leaderboard's "top scores over time" chart: pure functions, drawn as inline SVG.
import type { HistorySeries } from "./types";

export interface ChartBox {
  width: number;
  height: number;
  padLeft: number;
  padRight: number;
  padTop: number;
  padBottom: number;
}

export const DEFAULT_BOX: ChartBox = { width: 720, height: 280, padLeft: 64, padRight: 16, padTop: 16, padBottom: 40 };

export interface ChartSeries {
  userId: string;
  name: string;
  /** SVG path of a step line (a best score holds until the next improvement). */
  path: string;
  points: { x: number; y: number; score: number; at: string }[];
}

export interface ChartModel {
  series: ChartSeries[];
  yTicks: { y: number; label: string }[];
  xTicks: { x: number; label: string }[];
  empty: boolean;
}

function niceTicks(min: number, max: number, count: number): number[] {
  if (min === max) return [min];
  const step = (max - min) / (count - 1);
  return Array.from({ length: count }, (_, i) => min + step * i);
}

const round = (n: number) => Math.round(n * 10) / 10;

/**
 * Maps each user's `(scored_at, best_score)` points to the box. Each line runs as a step function
 * from the user's first point to the latest time of any user, so the lines end together.
 */
export function buildChart(history: HistorySeries[], box: ChartBox = DEFAULT_BOX): ChartModel {
  const all = history.flatMap((s) =>
    s.points
      .map((p) => ({ t: Date.parse(p.scored_at), v: p.best_score }))
      .filter((p) => Number.isFinite(p.t) && Number.isFinite(p.v)),
  );
  if (all.length === 0) return { series: [], yTicks: [], xTicks: [], empty: true };
  let tMin = Math.min(...all.map((p) => p.t));
  let tMax = Math.max(...all.map((p) => p.t));
  let vMin = Math.min(...all.map((p) => p.v));
  let vMax = Math.max(...all.map((p) => p.v));
  if (tMax === tMin) {
    tMin -= 60_000;
    tMax += 60_000;
  }
  if (vMax === vMin) {
    const pad = Math.abs(vMin) * 0.05 || 0.05;
    vMin -= pad;
    vMax += pad;
  }
  const plotW = box.width - box.padLeft - box.padRight;
  const plotH = box.height - box.padTop - box.padBottom;
  const xOf = (t: number) => round(box.padLeft + ((t - tMin) / (tMax - tMin)) * plotW);
  const yOf = (v: number) => round(box.padTop + (1 - (v - vMin) / (vMax - vMin)) * plotH);

  const series: ChartSeries[] = history
    .map((s) => {
      const pts = s.points
        .map((p) => ({ t: Date.parse(p.scored_at), v: p.best_score, at: p.scored_at }))
        .filter((p) => Number.isFinite(p.t) && Number.isFinite(p.v))
        .sort((a, b) => a.t - b.t);
      const points = pts.map((p) => ({ x: xOf(p.t), y: yOf(p.v), score: p.v, at: p.at }));
      let path = "";
      points.forEach((p, i) => {
        if (i === 0) path += `M${p.x},${p.y}`;
        else path += `H${p.x}V${p.y}`;
      });
      const last = points[points.length - 1];
      if (last && last.x < xOf(tMax)) path += `H${xOf(tMax)}`;
      return { userId: s.user_id, name: s.display_name, path, points };
    })
    .filter((s) => s.points.length > 0);

  const yTicks = niceTicks(vMin, vMax, 5).map((v) => ({ y: yOf(v), label: v.toFixed(3) }));
  // Minutes are enough for a long range; a range of a few minutes shows seconds too, and a tick
  // whose label repeats the previous one's is dropped (never two identical labels on the axis).
  const withSeconds = tMax - tMin < 10 * 60_000;
  const xTicks: { x: number; label: string }[] = [];
  for (const t of niceTicks(tMin, tMax, tMax - tMin > 0 ? 4 : 1)) {
    const d = new Date(t);
    const pad = (n: number) => String(n).padStart(2, "0");
    const seconds = withSeconds ? `:${pad(d.getUTCSeconds())}` : "";
    const label = `${d.getUTCMonth() + 1}/${d.getUTCDate()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}${seconds}`;
    if (xTicks.at(-1)?.label !== label) xTicks.push({ x: xOf(t), label });
  }
  return { series, yTicks, xTicks, empty: false };
}
