"use client";

import Link from "next/link";
import { useRouter } from "next/navigation";
import { useId, useState, type FormEvent } from "react";
import { ErrorBox } from "@/components/ErrorBox";
import { apiRequest } from "@/lib/client-api";
import { ApiError, fieldErrors, toProblem, type Problem } from "@/lib/problem";
import { safeNext } from "@/lib/safe-next";

export function AuthForm({ mode, next }: { mode: "login" | "signup"; next?: string }) {
  const router = useRouter();
  const id = useId();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const fields = fieldErrors(problem);

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      await apiRequest(`/auth/${mode}`, { method: "POST", json: { email, password } });
      router.push(safeNext(next, mode === "signup" ? "/competitions" : "/"));
      router.refresh();
    } catch (err) {
      setProblem(err instanceof ApiError ? err.problem : toProblem(0, null));
      setBusy(false);
    }
  }

  const emailErr = fields.email;
  const passwordErr = fields.password;
  return (
    <form className="form" onSubmit={onSubmit} noValidate data-testid={`${mode}-form`}>
      <div className="field">
        <label htmlFor={`${id}-email`}>Email</label>
        <input
          id={`${id}-email`}
          type="email"
          name="email"
          autoComplete="email"
          required
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          aria-invalid={emailErr ? true : undefined}
          aria-describedby={emailErr ? `${id}-email-err` : undefined}
          data-testid={`${mode}-email`}
        />
        {emailErr && (
          <span className="field-error" id={`${id}-email-err`} data-testid={`${mode}-email-error`}>
            {emailErr}
          </span>
        )}
      </div>
      <div className="field">
        <label htmlFor={`${id}-password`}>Password</label>
        <input
          id={`${id}-password`}
          type="password"
          name="password"
          autoComplete={mode === "signup" ? "new-password" : "current-password"}
          required
          minLength={mode === "signup" ? 8 : undefined}
          maxLength={128}
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          aria-invalid={passwordErr ? true : undefined}
          aria-describedby={[passwordErr ? `${id}-password-err` : "", mode === "signup" ? `${id}-password-hint` : ""]
            .filter(Boolean)
            .join(" ") || undefined}
          data-testid={`${mode}-password`}
        />
        {mode === "signup" && (
          <span className="hint" id={`${id}-password-hint`}>
            8 to 128 characters.
          </span>
        )}
        {passwordErr && (
          <span className="field-error" id={`${id}-password-err`} data-testid={`${mode}-password-error`}>
            {passwordErr}
          </span>
        )}
      </div>
      <ErrorBox problem={problem} testId={`${mode}-error`} />
      <div className="row">
        <button type="submit" className="btn" disabled={busy} data-testid={`${mode}-submit`}>
          {mode === "login" ? "Log in" : "Create account"}
        </button>
        {mode === "login" ? (
          <Link href={next ? `/auth/signup?next=${encodeURIComponent(next)}` : "/auth/signup"}>Create an account</Link>
        ) : (
          <Link href={next ? `/auth/login?next=${encodeURIComponent(next)}` : "/auth/login"}>I already have an account</Link>
        )}
      </div>
    </form>
  );
}
