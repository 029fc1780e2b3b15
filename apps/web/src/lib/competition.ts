import "server-only";
import { notFound } from "next/navigation";
import { cache } from "react";
import { apiGet } from "./server-api";
import type { CompetitionDetail } from "./types";

/** The competition's detail, or the 404 page for an unknown slug (memoised per request). */
export const loadCompetition = cache(async (slug: string) => {
  const r = await apiGet<CompetitionDetail>(`/api/v1/competitions/${encodeURIComponent(slug)}`);
  if (!r.ok && r.problem.status === 404) notFound();
  return r;
});
