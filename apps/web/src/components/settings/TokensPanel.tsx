"use client";

import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";
import { ErrorBox } from "@/components/ErrorBox";
import { apiData, apiRequest } from "@/lib/client-api";
import { formatDate } from "@/lib/format";
import { ApiError, fieldErrors, toProblem, type Problem } from "@/lib/problem";
import type { AccessToken } from "@/lib/types";

/** Personal access tokens: the secret of a new token is shown once, here, and never again. */
export function TokensPanel({ tokens }: { tokens: AccessToken[] }) {
  const router = useRouter();
  const [name, setName] = useState("");
  const [created, setCreated] = useState<AccessToken | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);
  const fields = fieldErrors(problem);

  async function onCreate(e: FormEvent) {
    e.preventDefault();
    setBusy("create");
    setProblem(null);
    setCopied(false);
    try {
      const t = await apiData<AccessToken>("/me/tokens", { method: "POST", json: { name } });
      setCreated(t);
      setName("");
      router.refresh();
    } catch (err) {
      setProblem(err instanceof ApiError ? err.problem : toProblem(0, null));
    } finally {
      setBusy(null);
    }
  }

  async function revoke(id: string) {
    setBusy(id);
    setProblem(null);
    try {
      await apiRequest(`/me/tokens/${encodeURIComponent(id)}`, { method: "DELETE" });
      if (created?.id === id) setCreated(null);
      router.refresh();
    } catch (err) {
      setProblem(err instanceof ApiError ? err.problem : toProblem(0, null));
    } finally {
      setBusy(null);
    }
  }

  return (
    <div className="stack">
      <form className="row" onSubmit={onCreate} data-testid="token-form">
        <label htmlFor="token-name">Token name</label>
        <input
          id="token-name"
          type="text"
          value={name}
          maxLength={100}
          placeholder="e.g. laptop CLI"
          onChange={(e) => setName(e.target.value)}
          aria-invalid={fields.name ? true : undefined}
          data-testid="token-name"
        />
        <button type="submit" className="btn" disabled={busy !== null || !name.trim()} data-testid="token-create">
          Create token
        </button>
      </form>
      {fields.name && <span className="field-error">{fields.name}</span>}
      {created?.token && (
        <div className="alert alert-ok" role="status" data-testid="token-created">
          <p style={{ marginTop: 0 }}>
            Token <strong>{created.name}</strong> created. Copy it now: it is shown only once.
          </p>
          <div className="token-secret" data-testid="token-secret">
            {created.token}
          </div>
          <div className="row" style={{ marginTop: "0.5rem" }}>
            <button
              type="button"
              className="btn small secondary"
              data-testid="token-copy"
              onClick={async () => {
                try {
                  await navigator.clipboard.writeText(created.token ?? "");
                  setCopied(true);
                } catch {
                  setCopied(false);
                }
              }}
            >
              Copy
            </button>
            {copied && <span>Copied.</span>}
            <button type="button" className="btn small secondary" onClick={() => setCreated(null)} data-testid="token-dismiss">
              Done
            </button>
          </div>
        </div>
      )}
      <ErrorBox problem={problem} testId="token-error" />
      {tokens.length === 0 ? (
        <p className="muted" data-testid="token-empty">
          No access tokens.
        </p>
      ) : (
        <div className="table-wrap">
          <table data-testid="token-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tokens.map((t) => (
                <tr key={t.id} data-testid="token-row" data-token-id={t.id}>
                  <td>{t.name}</td>
                  <td>{formatDate(t.created_at)}</td>
                  <td>{formatDate(t.last_used_at)}</td>
                  <td>
                    <button
                      type="button"
                      className="btn small danger"
                      disabled={busy !== null}
                      onClick={() => revoke(t.id)}
                      aria-label={`Revoke token ${t.name}`}
                      data-testid="token-revoke"
                    >
                      Revoke
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
