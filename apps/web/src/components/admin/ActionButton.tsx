"use client";

import { useRouter } from "next/navigation";
import { useState } from "react";
import { ErrorBox } from "@/components/ErrorBox";
import { apiRequest, type RequestOptions } from "@/lib/client-api";
import { ApiError, toProblem, type Problem } from "@/lib/problem";

/** A button that sends one state-changing request, then refreshes the page's server data. */
export function ActionButton({
  path,
  method = "POST",
  json,
  label,
  busyLabel,
  testId,
  className = "btn small secondary",
  ariaPressed,
  ariaLabel,
}: {
  path: string;
  method?: RequestOptions["method"];
  json?: unknown;
  label: string;
  busyLabel?: string;
  testId: string;
  className?: string;
  ariaPressed?: boolean;
  ariaLabel?: string;
}) {
  const router = useRouter();
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  return (
    <>
      <button
        type="button"
        className={className}
        disabled={busy}
        aria-pressed={ariaPressed}
        aria-label={ariaLabel}
        data-testid={testId}
        onClick={async () => {
          setBusy(true);
          setProblem(null);
          try {
            await apiRequest(path, { method, json });
            router.refresh();
          } catch (err) {
            setProblem(err instanceof ApiError ? err.problem : toProblem(0, null));
          } finally {
            setBusy(false);
          }
        }}
      >
        {busy ? (busyLabel ?? label) : label}
      </button>
      <ErrorBox problem={problem} testId={`${testId}-error`} />
    </>
  );
}
