"use client";

import { useRouter } from "next/navigation";
import { useState } from "react";
import { ErrorBox } from "@/components/ErrorBox";
import { apiData } from "@/lib/client-api";
import { ApiError, toProblem, type Problem } from "@/lib/problem";
import type { Session } from "@/lib/types";

/**
 * Starts a session (`POST /api/v1/sessions?wait=false`, so the answer is immediate) and goes to
 * /sessions, where the card follows the start live. `fromSessionId` continues from a snapshot.
 */
export function StartSessionButton({
  fromSessionId,
  label = "Open a session",
  testId = "start-session",
  className = "btn",
  goTo = "/sessions",
}: {
  fromSessionId?: string;
  label?: string;
  testId?: string;
  className?: string;
  goTo?: string;
}) {
  const router = useRouter();
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  return (
    <span className="stack">
      <button
        type="button"
        className={className}
        disabled={busy}
        data-testid={testId}
        onClick={async () => {
          setBusy(true);
          setProblem(null);
          try {
            await apiData<{ session: Session }>("/sessions?wait=false", {
              method: "POST",
              json: fromSessionId ? { from_session_id: fromSessionId } : {},
            });
            router.push(goTo);
            router.refresh();
          } catch (err) {
            if (err instanceof ApiError && err.status === 401) {
              router.push(`/auth/login?next=${encodeURIComponent(window.location.pathname)}`);
              return;
            }
            setProblem(err instanceof ApiError ? err.problem : toProblem(0, null));
          } finally {
            setBusy(false);
          }
        }}
      >
        {busy ? "Starting…" : label}
      </button>
      <ErrorBox problem={problem} testId={`${testId}-error`} />
    </span>
  );
}
