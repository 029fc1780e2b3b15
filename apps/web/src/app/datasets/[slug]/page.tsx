import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";
import { ErrorBox } from "@/components/ErrorBox";
import { formatBytes } from "@/lib/format";
import { apiGet } from "@/lib/server-api";
import type { DatasetDetail, FileEntry, FolderListing } from "@/lib/types";

type Props = { params: Promise<{ slug: string }>; searchParams: Promise<{ path?: string; cursor?: string }> };

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  const { slug } = await params;
  return { title: slug };
}

/** Percent-encodes each segment of a relative path, keeping the slashes. */
function encodePath(path: string): string {
  return path
    .split("/")
    .filter(Boolean)
    .map((s) => encodeURIComponent(s))
    .join("/");
}

export default async function DatasetPage({ params, searchParams }: Props) {
  const { slug } = await params;
  const sp = await searchParams;
  const folder = typeof sp.path === "string" ? sp.path.replace(/^\/+|\/+$/g, "") : "";
  const cursor = typeof sp.cursor === "string" ? sp.cursor : "";
  const enc = encodeURIComponent(slug);
  const r = await apiGet<DatasetDetail>(`/api/v1/datasets/${enc}`);
  if (!r.ok && r.problem.status === 404) notFound();
  if (!r.ok) return <ErrorBox problem={r.problem} />;
  const d = r.data;

  let entries: FileEntry[] = d.files;
  let truncated = d.files_truncated;
  let nextCursor: string | null = null;
  let listingProblem = null;
  if (folder) {
    const q = new URLSearchParams({ limit: "500" });
    if (cursor) q.set("cursor", cursor);
    const l = await apiGet<FolderListing>(`/api/v1/datasets/${enc}/files/${encodePath(folder)}?${q}`);
    if (l.ok) {
      entries = l.data.entries;
      truncated = false;
      nextCursor = l.meta.has_more ? (l.meta.next_cursor ?? null) : null;
    } else {
      listingProblem = l.problem;
      entries = [];
    }
  }
  const parent = folder.includes("/") ? folder.slice(0, folder.lastIndexOf("/")) : "";
  const here = (p: string) => (p ? `/datasets/${enc}?path=${encodeURIComponent(p)}` : `/datasets/${enc}`);

  return (
    <>
      <p className="muted small">
        <Link href="/datasets">Datasets</Link> / {d.title}
      </p>
      <h1>{d.title}</h1>
      <div className="card">
        <dl className="facts" data-testid="dataset-facts">
          <dt>Source</dt>
          <dd data-testid="dataset-source">{d.source}</dd>
          <dt>License</dt>
          <dd data-testid="dataset-license">{d.license}</dd>
          <dt>Size</dt>
          <dd data-testid="dataset-size">
            {formatBytes(d.bytes)} <span className="muted">({d.bytes.toLocaleString("en-US")} bytes)</span>
          </dd>
          <dt>Checksum</dt>
          <dd>
            <code data-testid="dataset-checksum">{d.checksum}</code>
            <div className="small muted">SHA-256 over each file&apos;s relative path and size, in path order.</div>
          </dd>
        </dl>
      </div>
      <h2>Files{folder ? ` in ${folder}/` : ""}</h2>
      {folder && (
        <p>
          <Link href={here(parent)} data-testid="dataset-up">
            ↑ Up to {parent ? `${parent}/` : "the top level"}
          </Link>
        </p>
      )}
      <ErrorBox problem={listingProblem} />
      <div className="table-wrap">
        <table data-testid="dataset-files">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col" className="num">Size</th>
              <th scope="col">Download</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((f) => {
              const rel = folder ? `${folder}/${f.name}` : f.name;
              return (
                <tr key={f.name} data-testid="dataset-file" data-type={f.type}>
                  <td>{f.type === "dir" ? <Link href={here(rel)}>{f.name}/</Link> : f.name}</td>
                  <td className="num">{f.type === "dir" ? "—" : formatBytes(f.size)}</td>
                  <td>
                    {f.type === "file" ? (
                      <a href={`/api/v1/datasets/${enc}/files/${encodePath(rel)}`} download data-testid="dataset-download">
                        Download
                      </a>
                    ) : (
                      <Link href={here(rel)}>Open folder</Link>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {truncated && <p className="muted small">Only the first 1000 entries are listed.</p>}
      {nextCursor && (
        <nav className="pager" aria-label="File pages">
          <Link href={`${here(folder)}&cursor=${encodeURIComponent(nextCursor)}`}>Next page</Link>
        </nav>
      )}
    </>
  );
}
