import { describe, expect, it } from "vitest";
import { buildChart, DEFAULT_BOX } from "./chart";

describe("buildChart", () => {
  it("is empty without points", () => {
    expect(buildChart([]).empty).toBe(true);
    expect(buildChart([{ user_id: "u", display_name: "a", points: [] }]).empty).toBe(true);
  });

  it("maps time to x and score to y inside the padding, as step lines that end together", () => {
    const m = buildChart([
      {
        user_id: "u1",
        display_name: "alice",
        points: [
          { scored_at: "2026-01-01T00:00:00Z", best_score: 0.5 },
          { scored_at: "2026-01-01T02:00:00Z", best_score: 0.9 },
        ],
      },
      { user_id: "u2", display_name: "bob", points: [{ scored_at: "2026-01-01T01:00:00Z", best_score: 0.7 }] },
    ]);
    const b = DEFAULT_BOX;
    const [a, bob] = m.series;
    expect(a?.points.map((p) => p.x)).toEqual([b.padLeft, b.width - b.padRight]);
    expect(a?.points[0]?.y).toBe(b.height - b.padBottom); // lowest score at the bottom
    expect(a?.points[1]?.y).toBe(b.padTop); // highest at the top
    expect(a?.path).toBe(`M${b.padLeft},${b.height - b.padBottom}H${b.width - b.padRight}V${b.padTop}`);
    // bob's single point is extended to the right edge
    expect(bob?.path.endsWith(`H${b.width - b.padRight}`)).toBe(true);
    expect(m.yTicks[0]?.label).toBe("0.500");
    expect(m.yTicks.at(-1)?.label).toBe("0.900");
  });

  it("labels the time axis without repeats, with seconds over a short range", () => {
    const short = buildChart([
      {
        user_id: "u",
        display_name: "a",
        points: [
          { scored_at: "2026-01-01T10:05:10Z", best_score: 0.5 },
          { scored_at: "2026-01-01T10:06:40Z", best_score: 0.6 },
        ],
      },
    ]);
    const labels = short.xTicks.map((t) => t.label);
    expect(labels.length).toBeGreaterThan(1);
    expect(new Set(labels).size).toBe(labels.length);
    expect(labels.every((l) => /^1\/1 10:0[56]:\d\d$/.test(l))).toBe(true);
    const long = buildChart([
      {
        user_id: "u",
        display_name: "a",
        points: [
          { scored_at: "2026-01-01T00:00:00Z", best_score: 0.5 },
          { scored_at: "2026-01-01T02:00:00Z", best_score: 0.6 },
        ],
      },
    ]);
    expect(long.xTicks.every((t) => /^1\/1 \d\d:\d\d$/.test(t.label))).toBe(true);
  });

  it("handles a single point (no zero-width ranges)", () => {
    const m = buildChart([{ user_id: "u", display_name: "a", points: [{ scored_at: "2026-01-01T00:00:00Z", best_score: 1 }] }]);
    const p = m.series[0]?.points[0];
    expect(Number.isFinite(p?.x)).toBe(true);
    expect(Number.isFinite(p?.y)).toBe(true);
  });
});
