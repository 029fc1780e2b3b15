import { describe, expect, it } from "vitest";
import { countsLine, formatDuration, freeGpuCount, gpuMemory, share } from "./host-status";
import type { HostGpu } from "./types";

const gpu = (over: Partial<HostGpu>): HostGpu => ({
  id: 0,
  name: "GPU 0",
  uuid: null,
  enabled: true,
  session_id: null,
  utilization_percent: null,
  memory_used_mib: null,
  memory_total_mib: null,
  temperature_c: null,
  ...over,
});

describe("host status formatting", () => {
  it("lists non-zero counts without the total", () => {
    expect(countsLine({ running: 2, starting: 0, stopped: 5, total: 7 })).toBe("running 2, stopped 5");
    expect(countsLine({ queued: 0, total: 0 })).toBe("none");
  });

  it("formats durations at two units", () => {
    expect(formatDuration(12.9)).toBe("12 s");
    expect(formatDuration(250)).toBe("4 min 10 s");
    expect(formatDuration(7500)).toBe("2 h 5 min");
    expect(formatDuration(3 * 86400 + 4 * 3600 + 59)).toBe("3 d 4 h");
    expect(formatDuration(-1)).toBe("—");
    expect(formatDuration(null)).toBe("—");
  });

  it("counts enabled GPUs without a session", () => {
    expect(freeGpuCount([gpu({}), gpu({ id: 1, enabled: false }), gpu({ id: 2, session_id: "s" }), gpu({ id: 3 })])).toBe(2);
    expect(freeGpuCount([])).toBe(0);
  });

  it("shows GPU memory in GiB and unknowns as such", () => {
    expect(gpuMemory({ memory_used_mib: 0, memory_total_mib: 143771 })).toBe("0.0 / 140 GiB");
    expect(gpuMemory({ memory_used_mib: 512, memory_total_mib: null })).toBe("0.5 / ? GiB");
    expect(gpuMemory({ memory_used_mib: null, memory_total_mib: null })).toBe("—");
  });

  it("computes shares only with a positive whole", () => {
    expect(share(1, 3)).toBe("33%");
    expect(share(5, 0)).toBe("—");
    expect(share(null, 10)).toBe("—");
  });
});
