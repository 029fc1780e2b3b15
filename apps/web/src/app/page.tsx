import Link from "next/link";
import { CompetitionCard } from "@/components/CompetitionCard";
import { ErrorBox } from "@/components/ErrorBox";
import { SessionSummary } from "@/components/SessionSummary";
import { apiGet, getMe } from "@/lib/server-api";
import type { CompetitionSummary, Session } from "@/lib/types";

export default async function HomePage() {
  const [me, comps] = await Promise.all([getMe(), apiGet<CompetitionSummary[]>("/api/v1/competitions?limit=50")]);
  const current = me ? await apiGet<{ session: Session | null }>("/api/v1/sessions/current") : null;
  const session = current?.ok ? current.data.session : null;
  return (
    <>
      <section aria-labelledby="intro">
        <h1 id="intro">MedForge</h1>
        <p className="lead">
          A self-hosted platform for medical-imaging machine learning: enter competitions scored against hidden
          labels, browse the datasets behind them, and work in a GPU session with VS Code in your browser.
        </p>
        {!me && (
          <div className="row">
            <Link className="btn" href="/auth/signup" data-testid="home-signup">
              Create an account
            </Link>
            <Link className="btn secondary" href="/auth/login" data-testid="home-login">
              Log in
            </Link>
          </div>
        )}
      </section>
      {me && (
        <section aria-labelledby="your-session">
          <h2 id="your-session">Your session</h2>
          {session ? (
            <SessionSummary session={session} />
          ) : (
            <p className="muted" data-testid="home-no-session">
              No session running. <Link href="/sessions">Start one on the Sessions page</Link>.
            </p>
          )}
        </section>
      )}
      <section aria-labelledby="active">
        <h2 id="active">Active competitions</h2>
        {comps.ok ? (
          comps.data.length > 0 ? (
            <div className="grid" data-testid="competition-list">
              {comps.data.map((c) => (
                <CompetitionCard key={c.slug} c={c} />
              ))}
            </div>
          ) : (
            <p className="muted">No active competitions.</p>
          )
        ) : (
          <ErrorBox problem={comps.problem} />
        )}
      </section>
    </>
  );
}
