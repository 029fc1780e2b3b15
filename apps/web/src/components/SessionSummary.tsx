import Link from "next/link";
import { StatusBadge } from "@/components/StatusBadge";
import { formatDate } from "@/lib/format";
import type { Session } from "@/lib/types";

/** A read-only line about a session (the home page); the live card is on /sessions. */
export function SessionSummary({ session }: { session: Session }) {
  return (
    <div className="card" data-testid="home-session">
      <div className="spread">
        <div>
          <strong>Session {session.slug}</strong> <StatusBadge status={session.status} />
          <div className="muted small">
            GPU {session.gpu_id ?? "—"} · started {formatDate(session.started_at ?? session.created_at)}
          </div>
        </div>
        <Link className="btn secondary" href="/sessions" data-testid="home-session-link">
          Manage session
        </Link>
      </div>
    </div>
  );
}
