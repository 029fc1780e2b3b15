import type { Metadata, Viewport } from "next";
import Link from "next/link";
import type { ReactNode } from "react";
import { LogoutButton } from "@/components/LogoutButton";
import { getMe } from "@/lib/server-api";
import "./globals.css";

export const metadata: Metadata = {
  title: { default: "MedForge", template: "%s · MedForge" },
  description: "Self-hosted medical-imaging ML platform: competitions, datasets and GPU sessions.",
};

export const viewport: Viewport = {
  width: "device-width",
  initialScale: 1,
  colorScheme: "light dark",
};

export const dynamic = "force-dynamic";

export default async function RootLayout({ children }: { children: ReactNode }) {
  const me = await getMe();
  return (
    <html lang="en">
      <body>
        <a className="skip-link" href="#main">
          Skip to content
        </a>
        <header className="site-header">
          <div className="inner">
            <Link href="/" className="brand" data-testid="nav-home">
              MedForge
            </Link>
            <nav aria-label="Main">
              <ul className="nav">
                <li>
                  <Link href="/competitions" data-testid="nav-competitions">
                    Competitions
                  </Link>
                </li>
                <li>
                  <Link href="/datasets" data-testid="nav-datasets">
                    Datasets
                  </Link>
                </li>
                {me && (
                  <li>
                    <Link href="/sessions" data-testid="nav-sessions">
                      Sessions
                    </Link>
                  </li>
                )}
                {me?.role === "admin" && (
                  <li>
                    <Link href="/admin" data-testid="nav-admin">
                      Admin
                    </Link>
                  </li>
                )}
              </ul>
            </nav>
            <div className="nav-user">
              {me ? (
                <>
                  <Link href="/settings" data-testid="nav-settings" title={me.email}>
                    {me.display_name}
                  </Link>
                  <LogoutButton />
                </>
              ) : (
                <>
                  <Link href="/auth/login" data-testid="nav-login">
                    Log in
                  </Link>
                  <Link href="/auth/signup" className="btn small" data-testid="nav-signup">
                    Sign up
                  </Link>
                </>
              )}
            </div>
          </div>
        </header>
        <main id="main">{children}</main>
        <footer className="site-footer">MedForge — self-hosted medical-imaging ML platform.</footer>
      </body>
    </html>
  );
}
