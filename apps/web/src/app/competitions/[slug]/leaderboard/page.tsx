import type { Metadata } from "next";
import Link from "next/link";
import { CompetitionTabs } from "@/components/CompetitionTabs";
import { ErrorBox } from "@/components/ErrorBox";
import { ScoreChart } from "@/components/ScoreChart";
import { loadCompetition } from "@/lib/competition";
import { formatDate, formatScore, metricConvention, metricLabel } from "@/lib/format";
import { apiGet } from "@/lib/server-api";
import type { HistorySeries, Leaderboard } from "@/lib/types";

type Props = { params: Promise<{ slug: string }>; searchParams: Promise<{ cursor?: string }> };

export const metadata: Metadata = { title: "Leaderboard" };

const PAGE = 50;

export default async function LeaderboardPage({ params, searchParams }: Props) {
  const { slug } = await params;
  const { cursor } = await searchParams;
  const enc = encodeURIComponent(slug);
  const q = new URLSearchParams({ limit: String(PAGE) });
  if (typeof cursor === "string" && cursor) q.set("cursor", cursor);
  const [comp, board, history] = await Promise.all([
    loadCompetition(slug),
    apiGet<Leaderboard>(`/api/v1/competitions/${enc}/leaderboard?${q}`),
    apiGet<HistorySeries[]>(`/api/v1/competitions/${enc}/leaderboard/history`),
  ]);
  if (!comp.ok) return <ErrorBox problem={comp.problem} />;
  const c = comp.data;
  return (
    <>
      <CompetitionTabs slug={c.slug} title={c.title} current="/leaderboard" />
      <h1>Leaderboard — {c.title}</h1>
      <p className="muted">
        {metricLabel(c.metric)}, {metricConvention(c.higher_is_better)}. One entry per participant: their best official score.
      </p>
      <h2>Top scores over time</h2>
      {history.ok ? (
        <ScoreChart history={history.data} title={`Best ${metricLabel(c.metric)} of the top 10 over time`} />
      ) : (
        <ErrorBox problem={history.problem} testId="chart-error" />
      )}
      <h2>Ranking</h2>
      {board.ok ? (
        board.data.entries.length === 0 ? (
          <p className="muted" data-testid="leaderboard-empty">
            No scored submissions yet. <Link href={`/competitions/${enc}/submit`}>Be the first</Link>.
          </p>
        ) : (
          <>
            <div className="table-wrap">
              <table data-testid="leaderboard-table">
                <thead>
                  <tr>
                    <th scope="col" className="num">Rank</th>
                    <th scope="col">Participant</th>
                    <th scope="col" className="num">Score</th>
                    <th scope="col" className="num">Submissions</th>
                    <th scope="col">Scored at</th>
                  </tr>
                </thead>
                <tbody>
                  {board.data.entries.map((e) => (
                    <tr key={e.user_id} data-testid="leaderboard-row" data-rank={e.rank}>
                      <td className="num">{e.rank}</td>
                      <td>{e.display_name}</td>
                      <td className="num" data-testid="leaderboard-score">{formatScore(e.primary_score)}</td>
                      <td className="num">{e.submission_count}</td>
                      <td>{formatDate(e.scored_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <nav className="pager" aria-label="Leaderboard pages">
              {cursor && (
                <Link href={`/competitions/${enc}/leaderboard`} data-testid="leaderboard-first">
                  First page
                </Link>
              )}
              {board.meta.has_more && board.meta.next_cursor && (
                <Link
                  href={`/competitions/${enc}/leaderboard?cursor=${encodeURIComponent(board.meta.next_cursor)}`}
                  data-testid="leaderboard-next"
                >
                  Next page
                </Link>
              )}
            </nav>
          </>
        )
      ) : (
        <ErrorBox problem={board.problem} />
      )}
    </>
  );
}
