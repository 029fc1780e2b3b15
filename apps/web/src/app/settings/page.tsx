import type { Metadata } from "next";
import { ErrorBox } from "@/components/ErrorBox";
import { PasswordForm } from "@/components/settings/PasswordForm";
import { ProfileForm } from "@/components/settings/ProfileForm";
import { TokensPanel } from "@/components/settings/TokensPanel";
import { apiGet, requireMe } from "@/lib/server-api";
import type { AccessToken } from "@/lib/types";

export const metadata: Metadata = { title: "Settings" };

export default async function SettingsPage() {
  const me = await requireMe("/settings");
  const tokens = await apiGet<AccessToken[]>("/api/v1/me/tokens?limit=100");
  return (
    <>
      <h1>Settings</h1>
      <p className="muted">
        Role: <strong data-testid="settings-role">{me.role}</strong> · concurrent sessions allowed: {me.max_concurrent_sessions}
      </p>
      <h2>Profile</h2>
      <ProfileForm me={me} />
      <h2>Password</h2>
      <PasswordForm />
      <h2>Personal access tokens</h2>
      <p className="muted">
        For scripts and the <code>medforge</code> CLI: send as <code>Authorization: Bearer mfp_…</code>. A token cannot open a
        session&apos;s VS Code.
      </p>
      {tokens.ok ? <TokensPanel tokens={tokens.data} /> : <ErrorBox problem={tokens.problem} />}
    </>
  );
}
