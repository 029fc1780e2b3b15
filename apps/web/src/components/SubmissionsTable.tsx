"use client";

import { useEffect, useState } from "react";
import { StatusBadge } from "@/components/StatusBadge";
import { apiData } from "@/lib/client-api";
import { formatDate, formatScore } from "@/lib/format";
import { startPolling } from "@/lib/poll";
import { isPendingSubmission, type Submission } from "@/lib/types";

const anyPending = (list: Submission[]) => list.some((s) => isPendingSubmission(s.status));

/** The caller's submissions; re-fetched with back-off while any is queued or scoring. */
export function SubmissionsTable({
  slug,
  initial,
  limit,
  cursor,
}: {
  slug: string;
  initial: Submission[];
  limit: number;
  cursor?: string;
}) {
  const [rows, setRows] = useState(initial);
  const [live, setLive] = useState(anyPending(initial));

  useEffect(() => {
    if (!anyPending(initial)) return;
    const poller = startPolling<Submission[]>({
      fetchOnce: (signal) =>
        apiData<Submission[]>(
          `/competitions/${encodeURIComponent(slug)}/submissions/me?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
          { signal },
        ),
      isDone: (list) => !anyPending(list),
      onValue: setRows,
      onEnd: () => setLive(false),
      initialDelayMs: 1500,
      maxDelayMs: 15_000,
    });
    return () => poller.stop();
  }, [slug, initial, limit, cursor]);

  if (rows.length === 0) {
    return (
      <p className="muted" data-testid="submissions-empty">
        No submissions yet.
      </p>
    );
  }
  return (
    <>
      <p className="small muted" aria-live="polite" data-testid="submissions-live" data-live={live ? "true" : "false"}>
        {live ? "Refreshing while submissions are queued or scoring…" : "\u00a0"}
      </p>
      <div className="table-wrap">
        <table data-testid="submissions-table">
          <thead>
            <tr>
              <th scope="col">Submitted</th>
              <th scope="col">File</th>
              <th scope="col">Status</th>
              <th scope="col" className="num">Rows</th>
              <th scope="col" className="num">Score</th>
              <th scope="col">Error</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((s) => (
              <tr key={s.id} data-testid="submission-row" data-id={s.id} data-status={s.status}>
                <td>{formatDate(s.created_at)}</td>
                <td>{s.filename}</td>
                <td>
                  <StatusBadge status={s.status} testId="submission-status" />
                </td>
                <td className="num">{s.row_count ?? "—"}</td>
                <td className="num" data-testid="submission-score">
                  {formatScore(s.official_score?.primary_score)}
                </td>
                <td className="small">{s.error ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
