import Link from "next/link";

const TABS = [
  ["", "Overview"],
  ["/leaderboard", "Leaderboard"],
  ["/submit", "Submit"],
  ["/submissions", "My submissions"],
] as const;

export function CompetitionTabs({ slug, title, current }: { slug: string; title: string; current: string }) {
  const base = `/competitions/${encodeURIComponent(slug)}`;
  return (
    <div>
      <p className="muted small">
        <Link href="/competitions">Competitions</Link> / {title}
      </p>
      <nav aria-label="Competition" className="row" style={{ marginBottom: "1rem" }}>
        {TABS.map(([suffix, label]) => (
          <Link
            key={suffix}
            href={`${base}${suffix}`}
            aria-current={current === suffix ? "page" : undefined}
            className={current === suffix ? "btn small" : "btn small secondary"}
            data-testid={`tab-${label.toLowerCase().replace(/\s+/g, "-")}`}
          >
            {label}
          </Link>
        ))}
      </nav>
    </div>
  );
}
