import Link from "next/link";
import { metricConvention, metricLabel } from "@/lib/format";
import type { CompetitionSummary } from "@/lib/types";

export function CompetitionCard({ c }: { c: CompetitionSummary }) {
  return (
    <Link href={`/competitions/${encodeURIComponent(c.slug)}`} className="card-link" data-testid="competition-card" data-slug={c.slug}>
      <article className="card">
        <h3>{c.title}</h3>
        <dl className="facts small">
          <dt>Metric</dt>
          <dd>
            {metricLabel(c.metric)} <span className="muted">({metricConvention(c.higher_is_better)})</span>
          </dd>
          <dt>Daily cap</dt>
          <dd>{c.submission_cap_per_day} submissions</dd>
        </dl>
      </article>
    </Link>
  );
}
