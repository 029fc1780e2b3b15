import type { Metadata } from "next";
import Link from "next/link";
import { CompetitionCard } from "@/components/CompetitionCard";
import { ErrorBox } from "@/components/ErrorBox";
import { apiGet } from "@/lib/server-api";
import type { CompetitionSummary } from "@/lib/types";

export const metadata: Metadata = { title: "Competitions" };

export default async function CompetitionsPage({ searchParams }: { searchParams: Promise<{ cursor?: string }> }) {
  const { cursor } = await searchParams;
  const q = new URLSearchParams({ limit: "24" });
  if (typeof cursor === "string" && cursor) q.set("cursor", cursor);
  const r = await apiGet<CompetitionSummary[]>(`/api/v1/competitions?${q}`);
  return (
    <>
      <h1>Competitions</h1>
      {r.ok ? (
        <>
          <div className="grid" data-testid="competition-list">
            {r.data.map((c) => (
              <CompetitionCard key={c.slug} c={c} />
            ))}
          </div>
          {r.data.length === 0 && <p className="muted">No active competitions.</p>}
          <nav className="pager" aria-label="Pages">
            {cursor && <Link href="/competitions">First page</Link>}
            {r.meta.has_more && r.meta.next_cursor && (
              <Link href={`/competitions?cursor=${encodeURIComponent(r.meta.next_cursor)}`} data-testid="next-page">
                Next page
              </Link>
            )}
          </nav>
        </>
      ) : (
        <ErrorBox problem={r.problem} />
      )}
    </>
  );
}
