import type { Metadata } from "next";
import { CompetitionTabs } from "@/components/CompetitionTabs";
import { ErrorBox } from "@/components/ErrorBox";
import { UploadForm } from "@/components/UploadForm";
import { loadCompetition } from "@/lib/competition";
import { formatDate } from "@/lib/format";
import { requireMe } from "@/lib/server-api";

type Props = { params: Promise<{ slug: string }> };

export const metadata: Metadata = { title: "Submit" };

export default async function SubmitPage({ params }: Props) {
  const { slug } = await params;
  await requireMe(`/competitions/${encodeURIComponent(slug)}/submit`);
  const comp = await loadCompetition(slug);
  if (!comp.ok) return <ErrorBox problem={comp.problem} />;
  const c = comp.data;
  const files = `/api/v1/competitions/${encodeURIComponent(c.slug)}/files`;
  return (
    <>
      <CompetitionTabs slug={c.slug} title={c.title} current="/submit" />
      <h1>Submit to {c.title}</h1>
      <p className="muted">
        Start from <a href={`${files}/sample_submission.csv`} download>sample_submission.csv</a>: one row per id in{" "}
        <a href={`${files}/test_ids.csv`} download>test_ids.csv</a>. Cap: {c.submission_cap_per_day} per UTC day
        {c.cap_resets_at ? `, resets ${formatDate(c.cap_resets_at)}` : ""}.
      </p>
      {c.status !== "active" ? (
        <p className="alert alert-info">This competition is closed and does not take submissions.</p>
      ) : (
        <UploadForm slug={c.slug} remaining={typeof c.remaining_today === "number" ? c.remaining_today : null} />
      )}
    </>
  );
}
