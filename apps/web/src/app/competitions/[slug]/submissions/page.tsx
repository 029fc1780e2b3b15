import type { Metadata } from "next";
import Link from "next/link";
import { CompetitionTabs } from "@/components/CompetitionTabs";
import { ErrorBox } from "@/components/ErrorBox";
import { SubmissionsTable } from "@/components/SubmissionsTable";
import { loadCompetition } from "@/lib/competition";
import { apiGet, requireMe } from "@/lib/server-api";
import type { Submission } from "@/lib/types";

type Props = { params: Promise<{ slug: string }>; searchParams: Promise<{ cursor?: string }> };

export const metadata: Metadata = { title: "My submissions" };

const PAGE = 50;

export default async function SubmissionsPage({ params, searchParams }: Props) {
  const { slug } = await params;
  const { cursor } = await searchParams;
  const enc = encodeURIComponent(slug);
  await requireMe(`/competitions/${enc}/submissions`);
  const q = new URLSearchParams({ limit: String(PAGE) });
  if (typeof cursor === "string" && cursor) q.set("cursor", cursor);
  const [comp, subs] = await Promise.all([
    loadCompetition(slug),
    apiGet<Submission[]>(`/api/v1/competitions/${enc}/submissions/me?${q}`),
  ]);
  if (!comp.ok) return <ErrorBox problem={comp.problem} />;
  return (
    <>
      <CompetitionTabs slug={comp.data.slug} title={comp.data.title} current="/submissions" />
      <h1>My submissions — {comp.data.title}</h1>
      {subs.ok ? (
        <>
          <SubmissionsTable slug={comp.data.slug} initial={subs.data} limit={PAGE} cursor={cursor || undefined} key={cursor ?? ""} />
          <nav className="pager" aria-label="Submission pages">
            {cursor && <Link href={`/competitions/${enc}/submissions`}>Newest</Link>}
            {subs.meta.has_more && subs.meta.next_cursor && (
              <Link href={`/competitions/${enc}/submissions?cursor=${encodeURIComponent(subs.meta.next_cursor)}`}>Older</Link>
            )}
          </nav>
        </>
      ) : (
        <ErrorBox problem={subs.problem} />
      )}
    </>
  );
}
