import type { Metadata } from "next";
import Link from "next/link";
import { ErrorBox } from "@/components/ErrorBox";
import { apiGet } from "@/lib/server-api";
import type { DatasetSummary } from "@/lib/types";

export const metadata: Metadata = { title: "Datasets" };

export default async function DatasetsPage({ searchParams }: { searchParams: Promise<{ cursor?: string }> }) {
  const { cursor } = await searchParams;
  const q = new URLSearchParams({ limit: "50" });
  if (typeof cursor === "string" && cursor) q.set("cursor", cursor);
  const r = await apiGet<DatasetSummary[]>(`/api/v1/datasets?${q}`);
  return (
    <>
      <h1>Datasets</h1>
      {r.ok ? (
        <>
          <div className="table-wrap">
            <table data-testid="dataset-table">
              <thead>
                <tr>
                  <th scope="col">Dataset</th>
                  <th scope="col">Source</th>
                </tr>
              </thead>
              <tbody>
                {r.data.map((d) => (
                  <tr key={d.slug} data-testid="dataset-row" data-slug={d.slug}>
                    <td>
                      <Link href={`/datasets/${encodeURIComponent(d.slug)}`}>{d.title}</Link>
                    </td>
                    <td>{d.source}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {r.data.length === 0 && <p className="muted">No datasets.</p>}
          <nav className="pager" aria-label="Pages">
            {cursor && <Link href="/datasets">First page</Link>}
            {r.meta.has_more && r.meta.next_cursor && (
              <Link href={`/datasets?cursor=${encodeURIComponent(r.meta.next_cursor)}`}>Next page</Link>
            )}
          </nav>
        </>
      ) : (
        <ErrorBox problem={r.problem} />
      )}
    </>
  );
}
