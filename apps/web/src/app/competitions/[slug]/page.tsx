import type { Metadata } from "next";
import Link from "next/link";
import { CompetitionTabs } from "@/components/CompetitionTabs";
import { ErrorBox } from "@/components/ErrorBox";
import { Markdown } from "@/components/Markdown";
import { StartSessionButton } from "@/components/StartSessionButton";
import { StatusBadge } from "@/components/StatusBadge";
import { loadCompetition } from "@/lib/competition";
import { formatDate, metricConvention, metricLabel } from "@/lib/format";
import { getMe } from "@/lib/server-api";

type Params = { params: Promise<{ slug: string }> };

export async function generateMetadata({ params }: Params): Promise<Metadata> {
  const { slug } = await params;
  const r = await loadCompetition(slug);
  return { title: r.ok ? r.data.title : slug };
}

export default async function CompetitionPage({ params }: Params) {
  const { slug } = await params;
  const [r, me] = await Promise.all([loadCompetition(slug), getMe()]);
  if (!r.ok) return <ErrorBox problem={r.problem} />;
  const c = r.data;
  const base = `/competitions/${encodeURIComponent(c.slug)}`;
  const files = `/api/v1/competitions/${encodeURIComponent(c.slug)}/files`;
  return (
    <>
      <CompetitionTabs slug={c.slug} title={c.title} current="" />
      <div className="spread">
        <h1>{c.title}</h1>
        {c.status !== "active" && <StatusBadge status={c.status} testId="competition-status" />}
      </div>
      <div className="card" style={{ marginBottom: "1rem" }}>
        <dl className="facts" data-testid="competition-facts">
          <dt>Metric</dt>
          <dd data-testid="competition-metric">
            {metricLabel(c.metric)} (<code>{c.metric}</code> v{c.metric_version}) — {metricConvention(c.higher_is_better)}
          </dd>
          <dt>Dataset</dt>
          <dd>
            {c.dataset ? (
              <Link href={`/datasets/${encodeURIComponent(c.dataset.slug)}`} data-testid="competition-dataset">
                {c.dataset.title}
              </Link>
            ) : (
              "—"
            )}
          </dd>
          <dt>Daily cap</dt>
          <dd data-testid="competition-cap">{c.submission_cap_per_day} submissions per UTC day</dd>
          <dt>Remaining today</dt>
          <dd data-testid="competition-remaining">
            {typeof c.remaining_today === "number" ? (
              <>
                {c.remaining_today} <span className="muted">(resets {formatDate(c.cap_resets_at)})</span>
              </>
            ) : (
              <span className="muted">
                <Link href={`/auth/login?next=${encodeURIComponent(base)}`}>Log in</Link> to see your remaining submissions
              </span>
            )}
          </dd>
          <dt>Files</dt>
          <dd>
            <a href={`${files}/sample_submission.csv`} download data-testid="download-sample">
              sample_submission.csv
            </a>{" "}
            ·{" "}
            <a href={`${files}/test_ids.csv`} download data-testid="download-test-ids">
              test_ids.csv
            </a>
          </dd>
        </dl>
        <div className="row" style={{ marginTop: "1rem" }}>
          <Link className="btn" href={`${base}/leaderboard`} data-testid="competition-leaderboard-link">
            Leaderboard
          </Link>
          <Link className="btn" href={`${base}/submit`} data-testid="competition-submit-link">
            Submit
          </Link>
          {me ? (
            <StartSessionButton className="btn secondary" testId="competition-open-session" />
          ) : (
            <Link className="btn secondary" href={`/auth/login?next=${encodeURIComponent(base)}`} data-testid="competition-open-session">
              Open a session
            </Link>
          )}
        </div>
      </div>
      <Markdown source={c.description} />
    </>
  );
}
