"use client";

import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";
import { ErrorBox } from "@/components/ErrorBox";
import { apiData } from "@/lib/client-api";
import { formatDate } from "@/lib/format";
import { ApiError, toProblem, type Problem } from "@/lib/problem";
import type { AdminUser, Role } from "@/lib/types";

export function UserRow({ user, isSelf }: { user: AdminUser; isSelf: boolean }) {
  const router = useRouter();
  const [role, setRole] = useState<Role>(user.role);
  const [cap, setCap] = useState(String(user.max_concurrent_sessions));
  const [problem, setProblem] = useState<Problem | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const capNum = Number(cap);
  const changed = role !== user.role || capNum !== user.max_concurrent_sessions;
  const formId = `user-${user.user_id}`;

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    setSaved(false);
    const body: Record<string, unknown> = {};
    if (role !== user.role) body.role = role;
    if (capNum !== user.max_concurrent_sessions) body.max_concurrent_sessions = capNum;
    try {
      await apiData(`/admin/users/${encodeURIComponent(user.user_id)}`, { method: "PATCH", json: body });
      setSaved(true);
      router.refresh();
    } catch (err) {
      setProblem(err instanceof ApiError ? err.problem : toProblem(0, null));
    } finally {
      setBusy(false);
    }
  }

  return (
    <tr data-testid="admin-user-row" data-user-id={user.user_id} data-email={user.email}>
      <td>
        {user.email}
        {isSelf && <span className="muted small"> (you)</span>}
        <div className="muted small">{user.display_name}</div>
      </td>
      <td>
        <label className="visually-hidden" htmlFor={`${formId}-role`}>
          Role of {user.email}
        </label>
        <select
          id={`${formId}-role`}
          form={formId}
          value={role}
          onChange={(e) => setRole(e.target.value as Role)}
          data-testid="admin-user-role"
        >
          <option value="user">user</option>
          <option value="admin">admin</option>
        </select>
      </td>
      <td>
        <label className="visually-hidden" htmlFor={`${formId}-cap`}>
          Session cap of {user.email}
        </label>
        <input
          id={`${formId}-cap`}
          form={formId}
          type="number"
          min={1}
          max={8}
          step={1}
          inputMode="numeric"
          value={cap}
          onChange={(e) => setCap(e.target.value)}
          data-testid="admin-user-cap"
        />
      </td>
      <td className="num">{user.active_sessions}</td>
      <td>{formatDate(user.created_at)}</td>
      <td>
        <form id={formId} onSubmit={onSubmit}>
          <button type="submit" className="btn small" disabled={busy || !changed} data-testid="admin-user-save">
            Save
          </button>
        </form>
        {saved && (
          <span className="small" role="status" data-testid="admin-user-saved">
            Saved
          </span>
        )}
        <ErrorBox problem={problem} testId="admin-user-error" />
      </td>
    </tr>
  );
}
