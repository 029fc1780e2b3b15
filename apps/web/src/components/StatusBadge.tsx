const TONE: Record<string, string> = {
  running: "ok",
  ready: "ok",
  not_ready: "err",
  scored: "ok",
  active: "ok",
  enabled: "ok",
  starting: "info",
  queued: "info",
  scoring: "info",
  stopping: "warn",
  stopped: "muted",
  closed: "muted",
  disabled: "muted",
  error: "err",
  failed: "err",
};

export function StatusBadge({ status, testId = "status-badge" }: { status: string; testId?: string }) {
  return (
    <span className={`badge badge-${TONE[status] ?? "muted"}`} data-testid={testId} data-status={status}>
      {status}
    </span>
  );
}
