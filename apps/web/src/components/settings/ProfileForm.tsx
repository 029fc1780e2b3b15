"use client";

import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";
import { ErrorBox } from "@/components/ErrorBox";
import { apiData } from "@/lib/client-api";
import { ApiError, fieldErrors, toProblem, type Problem } from "@/lib/problem";
import type { Me } from "@/lib/types";

export function ProfileForm({ me }: { me: Me }) {
  const router = useRouter();
  const [displayName, setDisplayName] = useState(me.display_name);
  const [email, setEmail] = useState(me.email);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const fields = fieldErrors(problem);

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    const body: Record<string, string> = {};
    if (displayName !== me.display_name) body.display_name = displayName;
    if (email.trim().toLowerCase() !== me.email) body.email = email;
    setProblem(null);
    setSaved(false);
    if (Object.keys(body).length === 0) {
      setSaved(true);
      return;
    }
    setBusy(true);
    try {
      // The form keeps its state (and the "Saved." note) across the refresh that follows: it
      // shows what the API stored (the email trimmed and lower-cased).
      const stored = await apiData<Me>("/me", { method: "PATCH", json: body });
      setDisplayName(stored.display_name);
      setEmail(stored.email);
      setSaved(true);
      router.refresh();
    } catch (err) {
      setProblem(err instanceof ApiError ? err.problem : toProblem(0, null));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="form" onSubmit={onSubmit} noValidate data-testid="profile-form">
      <div className="field">
        <label htmlFor="display-name">Display name</label>
        <input
          id="display-name"
          type="text"
          maxLength={64}
          value={displayName}
          onChange={(e) => setDisplayName(e.target.value)}
          aria-invalid={fields.display_name ? true : undefined}
          aria-describedby="display-name-hint"
          data-testid="profile-display-name"
        />
        <span className="hint" id="display-name-hint">
          Shown on leaderboards. 1 to 64 characters.
        </span>
        {fields.display_name && <span className="field-error">{fields.display_name}</span>}
      </div>
      <div className="field">
        <label htmlFor="profile-email">Email</label>
        <input
          id="profile-email"
          type="email"
          autoComplete="email"
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          aria-invalid={fields.email ? true : undefined}
          data-testid="profile-email"
        />
        {fields.email && <span className="field-error">{fields.email}</span>}
      </div>
      <ErrorBox problem={problem} testId="profile-error" />
      <div className="row">
        <button type="submit" className="btn" disabled={busy} data-testid="profile-save">
          Save profile
        </button>
        {saved && (
          <span role="status" data-testid="profile-saved">
            Saved.
          </span>
        )}
      </div>
    </form>
  );
}
