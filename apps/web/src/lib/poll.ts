// Polling with back-off: call `fetchOnce` until `isDone(value)` says the value is final, waiting
// `initialDelayMs`, then growing by `factor` up to `maxDelayMs` (errors back off the same way).
// Stops on `stop()`, on a final value, or after `maxDurationMs`.

export interface PollOptions<T> {
  fetchOnce: (signal: AbortSignal) => Promise<T>;
  isDone: (value: T) => boolean;
  onValue?: (value: T) => void;
  onError?: (error: unknown) => void;
  /** Called once when polling ends: "done", "stopped" or "timeout". */
  onEnd?: (reason: "done" | "stopped" | "timeout") => void;
  initialDelayMs?: number;
  maxDelayMs?: number;
  factor?: number;
  maxDurationMs?: number;
  /** Poll at once instead of after the first delay. */
  immediate?: boolean;
  now?: () => number;
}

export interface Poller {
  stop: () => void;
  /** The delays used so far (for display and tests). */
  readonly delays: number[];
}

export function nextDelay(previous: number, factor: number, max: number): number {
  return Math.min(max, Math.round(previous * factor));
}

export function startPolling<T>(opts: PollOptions<T>): Poller {
  const initial = opts.initialDelayMs ?? 1000;
  const max = opts.maxDelayMs ?? 10_000;
  const factor = opts.factor ?? 1.5;
  const maxDuration = opts.maxDurationMs ?? 10 * 60_000;
  const now = opts.now ?? Date.now;
  const started = now();
  const controller = new AbortController();
  const delays: number[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let ended = false;
  let delay = initial;

  const end = (reason: "done" | "stopped" | "timeout") => {
    if (ended) return;
    ended = true;
    if (timer !== undefined) clearTimeout(timer);
    controller.abort();
    opts.onEnd?.(reason);
  };

  const schedule = (ms: number) => {
    if (ended) return;
    if (now() - started + ms > maxDuration) {
      end("timeout");
      return;
    }
    delays.push(ms);
    timer = setTimeout(tick, ms);
  };

  const tick = async () => {
    if (ended) return;
    try {
      const value = await opts.fetchOnce(controller.signal);
      if (ended) return;
      opts.onValue?.(value);
      if (opts.isDone(value)) {
        end("done");
        return;
      }
    } catch (err) {
      if (ended) return;
      opts.onError?.(err);
    }
    const wait = delay;
    delay = nextDelay(delay, factor, max);
    schedule(wait);
  };

  if (opts.immediate) {
    void tick();
  } else {
    const wait = delay;
    delay = nextDelay(delay, factor, max);
    schedule(wait);
  }

  return { stop: () => end("stopped"), delays };
}
