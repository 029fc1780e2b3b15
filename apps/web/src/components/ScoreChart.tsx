import { buildChart, DEFAULT_BOX } from "@/lib/chart";
import { formatDate, formatScore } from "@/lib/format";
import type { HistorySeries } from "@/lib/types";

const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

/** Best score over time of the current top 10, as a step chart in inline SVG. */
export function ScoreChart({ history, title }: { history: HistorySeries[]; title: string }) {
  const box = DEFAULT_BOX;
  const model = buildChart(history, box);
  if (model.empty) {
    return (
      <p className="muted" data-testid="leaderboard-chart-empty">
        No scores yet.
      </p>
    );
  }
  return (
    <figure style={{ margin: 0 }} data-testid="leaderboard-chart">
      <svg className="chart" viewBox={`0 0 ${box.width} ${box.height}`} role="img" aria-labelledby="chart-title">
        <title id="chart-title">{title}</title>
        {model.yTicks.map((t) => (
          <g key={`y${t.y}`}>
            <line className="grid-line" x1={box.padLeft} x2={box.width - box.padRight} y1={t.y} y2={t.y} />
            <text x={box.padLeft - 6} y={t.y + 4} textAnchor="end">
              {t.label}
            </text>
          </g>
        ))}
        <line className="axis" x1={box.padLeft} x2={box.width - box.padRight} y1={box.height - box.padBottom} y2={box.height - box.padBottom} />
        <line className="axis" x1={box.padLeft} x2={box.padLeft} y1={box.padTop} y2={box.height - box.padBottom} />
        {model.xTicks.map((t, i) => (
          <text
            key={`x${t.x}`}
            x={t.x}
            y={box.height - box.padBottom + 18}
            textAnchor={i === 0 ? "start" : i === model.xTicks.length - 1 ? "end" : "middle"}
          >
            {t.label}
          </text>
        ))}
        {model.series.map((s, i) => (
          <g key={s.userId} data-testid="chart-series">
            <path d={s.path} fill="none" stroke={COLORS[i % COLORS.length]} strokeWidth={2} />
            {s.points.map((p) => (
              <circle key={`${p.x},${p.y}`} cx={p.x} cy={p.y} r={3} fill={COLORS[i % COLORS.length]}>
                <title>{`${s.name}: ${formatScore(p.score)} at ${formatDate(p.at)}`}</title>
              </circle>
            ))}
          </g>
        ))}
      </svg>
      <figcaption>
        <ul className="legend">
          {model.series.map((s, i) => (
            <li key={s.userId}>
              <span className="swatch" style={{ background: COLORS[i % COLORS.length] }} aria-hidden="true" />
              {s.name}
            </li>
          ))}
        </ul>
      </figcaption>
    </figure>
  );
}
