import { describe, expect, it } from "vitest";
import { parsePrometheus, pick } from "./metrics";

const TEXT = `# HELP medforge_sessions Sessions by status
# TYPE medforge_sessions gauge
medforge_sessions{status="running"} 2
medforge_sessions{status="starting"} 0
medforge_gpus_free 5
medforge_scoring_oldest_queued_seconds 0.250000
medforge_http_requests_total{method="GET",route="/api/v1/x\\"y",status="200"} 3
`;

describe("parsePrometheus", () => {
  it("reads samples with labels", () => {
    const s = parsePrometheus(TEXT);
    expect(pick(s, "medforge_sessions", { status: "running" })).toBe(2);
    expect(pick(s, "medforge_gpus_free")).toBe(5);
    expect(pick(s, "medforge_scoring_oldest_queued_seconds")).toBe(0.25);
    expect(pick(s, "medforge_http_requests_total", { route: '/api/v1/x"y' })).toBe(3);
    expect(pick(s, "missing")).toBeNull();
  });
});
