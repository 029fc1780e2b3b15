"use client";

import { useState, type FormEvent } from "react";
import { ErrorBox } from "@/components/ErrorBox";
import { apiData } from "@/lib/client-api";
import { ApiError, fieldErrors, toProblem, type Problem } from "@/lib/problem";

export function PasswordForm() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [confirm, setConfirm] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const fields = fieldErrors(problem);
  const mismatch = confirm.length > 0 && confirm !== next;

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    setSaved(false);
    if (next !== confirm) {
      setProblem({ status: 0, detail: "The new passwords do not match." });
      return;
    }
    setBusy(true);
    setProblem(null);
    try {
      await apiData("/me", { method: "PATCH", json: { current_password: current, new_password: next } });
      setSaved(true);
      setCurrent("");
      setNext("");
      setConfirm("");
    } catch (err) {
      setProblem(err instanceof ApiError ? err.problem : toProblem(0, null));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="form" onSubmit={onSubmit} noValidate data-testid="password-form">
      <div className="field">
        <label htmlFor="current-password">Current password</label>
        <input
          id="current-password"
          type="password"
          autoComplete="current-password"
          value={current}
          onChange={(e) => setCurrent(e.target.value)}
          aria-invalid={fields.current_password ? true : undefined}
          data-testid="password-current"
        />
        {fields.current_password && <span className="field-error">{fields.current_password}</span>}
      </div>
      <div className="field">
        <label htmlFor="new-password">New password</label>
        <input
          id="new-password"
          type="password"
          autoComplete="new-password"
          minLength={8}
          maxLength={128}
          value={next}
          onChange={(e) => setNext(e.target.value)}
          aria-invalid={fields.new_password ? true : undefined}
          aria-describedby="new-password-hint"
          data-testid="password-new"
        />
        <span className="hint" id="new-password-hint">
          8 to 128 characters. Changing it logs out your other logins and revokes your access tokens.
        </span>
        {fields.new_password && <span className="field-error">{fields.new_password}</span>}
      </div>
      <div className="field">
        <label htmlFor="confirm-password">Repeat the new password</label>
        <input
          id="confirm-password"
          type="password"
          autoComplete="new-password"
          value={confirm}
          onChange={(e) => setConfirm(e.target.value)}
          aria-invalid={mismatch ? true : undefined}
          data-testid="password-confirm"
        />
        {mismatch && <span className="field-error">Does not match the new password.</span>}
      </div>
      <ErrorBox problem={problem} testId="password-error" />
      <div className="row">
        <button type="submit" className="btn" disabled={busy || !current || !next} data-testid="password-save">
          Change password
        </button>
        {saved && (
          <span role="status" data-testid="password-saved">
            Password changed.
          </span>
        )}
      </div>
    </form>
  );
}
