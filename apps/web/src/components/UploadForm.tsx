"use client";

import Link from "next/link";
import { useEffect, useRef, useState, type DragEvent, type FormEvent } from "react";
import { ErrorBox } from "@/components/ErrorBox";
import { StatusBadge } from "@/components/StatusBadge";
import { apiData } from "@/lib/client-api";
import { formatScore } from "@/lib/format";
import { startPolling, type Poller } from "@/lib/poll";
import { ApiError, submissionErrorLocation, toProblem, type Problem } from "@/lib/problem";
import { isPendingSubmission, type Submission, type SubmissionCreated } from "@/lib/types";
import { uploadWithProgress, UploadError, type UploadProgress } from "@/lib/upload";

type Phase = "idle" | "uploading" | "checking" | "waiting" | "done" | "error";

export function UploadForm({ slug, remaining }: { slug: string; remaining: number | null }) {
  const inputRef = useRef<HTMLInputElement>(null);
  const pollRef = useRef<Poller | null>(null);
  const [file, setFile] = useState<File | null>(null);
  const [drag, setDrag] = useState(false);
  const [phase, setPhase] = useState<Phase>("idle");
  const [progress, setProgress] = useState<UploadProgress | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [submission, setSubmission] = useState<Submission | null>(null);
  const [left, setLeft] = useState<number | null>(remaining);

  useEffect(() => () => pollRef.current?.stop(), []);

  const pick = (f: File | null | undefined) => {
    if (!f) return;
    setFile(f);
    setProblem(null);
    setSubmission(null);
    setProgress(null);
    setPhase("idle");
  };

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setDrag(false);
    pick(e.dataTransfer.files?.[0]);
  };

  const follow = (s: Submission) => {
    pollRef.current?.stop();
    if (!isPendingSubmission(s.status)) {
      setPhase("done");
      return;
    }
    setPhase("waiting");
    pollRef.current = startPolling<Submission>({
      fetchOnce: (signal) => apiData<Submission>(`/submissions/${encodeURIComponent(s.id)}`, { signal }),
      isDone: (v) => !isPendingSubmission(v.status),
      onValue: (v) => setSubmission(v),
      onEnd: (reason) => setPhase(reason === "done" ? "done" : "waiting"),
      initialDelayMs: 1000,
      maxDelayMs: 8000,
      factor: 1.5,
      maxDurationMs: 10 * 60_000,
    });
  };

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    if (!file) {
      setProblem({ status: 0, detail: "Choose a CSV file first." });
      return;
    }
    pollRef.current?.stop();
    setProblem(null);
    setSubmission(null);
    setPhase("uploading");
    setProgress({ loaded: 0, total: file.size, fraction: 0 });
    try {
      const res = await uploadWithProgress({
        url: `/api/v1/competitions/${encodeURIComponent(slug)}/submissions`,
        file,
        filename: file.name,
        onProgress: setProgress,
        onSent: () => setPhase("checking"),
      });
      if (res.status === 201) {
        const created = (res.body as { data: SubmissionCreated }).data;
        setSubmission(created.submission);
        setLeft(created.remaining_today);
        follow(created.submission);
      } else {
        setProblem(toProblem(res.status, res.body));
        setPhase("error");
      }
    } catch (err) {
      setProblem(
        err instanceof ApiError ? err.problem : toProblem(0, null, err instanceof UploadError ? err.message : undefined),
      );
      setPhase("error");
    }
  }

  const loc = problem ? submissionErrorLocation(problem) : null;
  const pct = progress?.fraction != null ? Math.round(progress.fraction * 100) : null;
  const busy = phase === "uploading" || phase === "checking";

  return (
    <form onSubmit={onSubmit} className="stack" data-testid="upload-form">
      <label
        className={`dropzone${drag ? " active" : ""}`}
        data-testid="upload-dropzone"
        onDragOver={(e) => {
          e.preventDefault();
          setDrag(true);
        }}
        onDragEnter={(e) => {
          e.preventDefault();
          setDrag(true);
        }}
        onDragLeave={() => setDrag(false)}
        onDrop={onDrop}
      >
        <input
          ref={inputRef}
          className="visually-hidden"
          type="file"
          name="file"
          accept=".csv,text/csv"
          data-testid="upload-input"
          onChange={(e) => pick(e.target.files?.[0])}
        />
        <strong>Drop your CSV here, or click to choose a file</strong>
        <span className="muted small" data-testid="upload-filename">
          {file ? `${file.name} (${file.size.toLocaleString("en-US")} bytes)` : "RFC 4180 CSV with a header row, up to 10 MiB"}
        </span>
      </label>
      <div className="row">
        <button type="submit" className="btn" disabled={!file || busy} data-testid="upload-submit">
          {busy ? "Uploading…" : "Submit"}
        </button>
        {left !== null && (
          <span className="muted" data-testid="upload-remaining">
            {left} submission{left === 1 ? "" : "s"} left today
          </span>
        )}
      </div>
      <div className="progress-slot" aria-live="polite">
        {phase !== "idle" && progress && (
          <>
            <progress
              max={100}
              value={pct ?? undefined}
              aria-label="Upload progress"
              data-testid="upload-progress"
              data-phase={phase}
            />
            <div className="small muted" data-testid="upload-phase">
              {phase === "uploading" && (pct === null ? "Uploading…" : `Uploading… ${pct}%`)}
              {phase === "checking" && "Uploaded; validating and scoring…"}
              {phase === "waiting" && "Queued for scoring; this page updates by itself."}
              {phase === "done" && "Done."}
              {phase === "error" && "The upload was refused."}
            </div>
          </>
        )}
      </div>
      {problem && (
        <div>
          <ErrorBox problem={problem} testId="upload-error" />
          {loc && (
            <p className="small" data-testid="upload-error-location">
              Line <strong data-testid="upload-error-line">{loc.line}</strong>
              {loc.column !== null && (
                <>
                  , column <strong data-testid="upload-error-column">{loc.column}</strong>
                </>
              )}
            </p>
          )}
        </div>
      )}
      {submission && (
        <div className="card" data-testid="upload-result" data-status={submission.status}>
          <div className="spread">
            <span>
              <strong>{submission.filename}</strong> <StatusBadge status={submission.status} testId="upload-status" />
            </span>
            <Link href={`/competitions/${encodeURIComponent(slug)}/submissions`}>All my submissions</Link>
          </div>
          {submission.official_score && (
            <p>
              Score: <span className="score-big" data-testid="upload-score">{formatScore(submission.official_score.primary_score)}</span>
            </p>
          )}
          {submission.status === "failed" && submission.error && (
            <p className="alert alert-error" data-testid="upload-failed-reason">
              {submission.error}
            </p>
          )}
        </div>
      )}
    </form>
  );
}
