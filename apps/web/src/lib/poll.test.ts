import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { nextDelay, startPolling } from "./poll";

describe("startPolling", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("backs off by the factor up to the maximum and stops at a final value", async () => {
    const values = ["queued", "queued", "scoring", "scoring", "scoring", "scored"];
    const fetchOnce = vi.fn(async () => values.shift() ?? "scored");
    const seen: string[] = [];
    const onEnd = vi.fn();
    const p = startPolling({
      fetchOnce,
      isDone: (v) => v === "scored",
      onValue: (v) => seen.push(v),
      onEnd,
      initialDelayMs: 1000,
      factor: 2,
      maxDelayMs: 4000,
    });
    await vi.advanceTimersByTimeAsync(999);
    expect(fetchOnce).toHaveBeenCalledTimes(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(fetchOnce).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(seen).toEqual(["queued", "queued", "scoring", "scoring", "scoring", "scored"]);
    expect(p.delays).toEqual([1000, 2000, 4000, 4000, 4000, 4000]);
    expect(onEnd).toHaveBeenCalledWith("done");
    expect(fetchOnce).toHaveBeenCalledTimes(6);
  });

  it("keeps polling through errors, backing off", async () => {
    let n = 0;
    const onError = vi.fn();
    const onEnd = vi.fn();
    startPolling({
      fetchOnce: async () => {
        n += 1;
        if (n < 3) throw new Error("503");
        return n;
      },
      isDone: () => true,
      onError,
      onEnd,
      initialDelayMs: 100,
      factor: 3,
    });
    await vi.advanceTimersByTimeAsync(100 + 300 + 900);
    expect(onError).toHaveBeenCalledTimes(2);
    expect(onEnd).toHaveBeenCalledWith("done");
  });

  it("stop() ends it: no more calls and an in-flight answer is ignored", async () => {
    let resolve: (v: string) => void = () => undefined;
    const fetchOnce = vi.fn(
      (signal: AbortSignal) =>
        new Promise<string>((r) => {
          resolve = r;
          expect(signal.aborted).toBe(false);
        }),
    );
    const onValue = vi.fn();
    const onEnd = vi.fn();
    const p = startPolling({ fetchOnce, isDone: () => false, onValue, onEnd, initialDelayMs: 10 });
    await vi.advanceTimersByTimeAsync(10);
    expect(fetchOnce).toHaveBeenCalledTimes(1);
    p.stop();
    resolve("late");
    await vi.advanceTimersByTimeAsync(10_000);
    expect(onValue).not.toHaveBeenCalled();
    expect(fetchOnce).toHaveBeenCalledTimes(1);
    expect(onEnd).toHaveBeenCalledTimes(1);
    expect(onEnd).toHaveBeenCalledWith("stopped");
  });

  it("gives up after maxDurationMs", async () => {
    const onEnd = vi.fn();
    const fetchOnce = vi.fn(async () => "queued");
    startPolling({
      fetchOnce,
      isDone: () => false,
      onEnd,
      initialDelayMs: 1000,
      factor: 1,
      maxDurationMs: 5500,
    });
    await vi.advanceTimersByTimeAsync(20_000);
    expect(fetchOnce).toHaveBeenCalledTimes(5);
    expect(onEnd).toHaveBeenCalledWith("timeout");
  });

  it("polls at once with immediate", async () => {
    const fetchOnce = vi.fn(async () => 1);
    startPolling({ fetchOnce, isDone: () => true, immediate: true });
    await vi.advanceTimersByTimeAsync(0);
    expect(fetchOnce).toHaveBeenCalledTimes(1);
  });

  it("nextDelay caps", () => {
    expect(nextDelay(1000, 1.5, 10_000)).toBe(1500);
    expect(nextDelay(9000, 1.5, 10_000)).toBe(10_000);
  });
});
