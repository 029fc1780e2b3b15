"use client";

import { useRouter } from "next/navigation";
import { useState } from "react";
import { apiRequest } from "@/lib/client-api";

export function LogoutButton() {
  const router = useRouter();
  const [busy, setBusy] = useState(false);
  return (
    <button
      type="button"
      className="btn small secondary"
      data-testid="logout-button"
      disabled={busy}
      onClick={async () => {
        setBusy(true);
        try {
          await apiRequest("/auth/logout", { method: "POST" });
        } catch {
          // Logging out clears the cookie even when the login had already expired.
        }
        router.push("/");
        router.refresh();
        setBusy(false);
      }}
    >
      Log out
    </button>
  );
}
