// Shared helpers of the end-to-end tests: the stack under test (from the environment that
// `scripts/stack.sh start DIR` writes to DIR/env), Chromium through playwright-core, sign-up and
// log-in through the pages, screenshots, and condition waits with deadlines (never bare sleeps).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));

function required(name) {
  const v = process.env[name];
  if (!v) {
    throw new Error(
      `${name} is not set: start a stack (scripts/stack.sh start DIR) and load DIR/env ` +
        "(set -a; . DIR/env; set +a), or run the `e2e` stage of scripts/test.sh",
    );
  }
  return v;
}

export const stack = {
  webUrl: required("MEDFORGE_WEB_URL"),
  adminEmail: required("MEDFORGE_ADMIN_EMAIL"),
  adminPassword: required("MEDFORGE_ADMIN_PASSWORD"),
  workspaceRoot: required("MEDFORGE_WORKSPACE_DIR_ROOT"),
};

export const artifactsDir = resolve(process.env.MEDFORGE_E2E_ARTIFACTS ?? join(here, "../../../build/e2e-artifacts"));
mkdirSync(artifactsDir, { recursive: true });

/** Deadlines of the waits (ms): the slowest step is code-server's workbench on a busy machine. */
export const WAIT = { short: 15_000, long: 60_000 };

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.MEDFORGE_E2E_CHROMIUM ?? "/usr/bin/chromium",
    args: CHROMIUM_ARGS,
  });
}

/** A fresh browser profile (cookies) with the web app as its base URL. */
export async function newContext(browser) {
  const context = await browser.newContext({
    baseURL: stack.webUrl,
    viewport: { width: 1280, height: 860 },
    acceptDownloads: true,
  });
  context.setDefaultTimeout(WAIT.short);
  return context;
}

export function uniqueEmail(prefix) {
  return `${prefix}-${randomBytes(4).toString("hex")}@e2e.medforge.test`;
}

export const byTestId = (page, id) => page.locator(`[data-testid="${id}"]`);

/** Signs up through /auth/signup and waits for the app to land on the competitions list. */
export async function signUp(page, email, password = "correct horse battery") {
  await page.goto("/auth/signup");
  await byTestId(page, "signup-email").fill(email);
  await byTestId(page, "signup-password").fill(password);
  await byTestId(page, "signup-submit").click();
  await page.waitForURL((u) => u.pathname === "/competitions");
  await byTestId(page, "logout-button").waitFor();
  return { email, password };
}

export async function logIn(page, email, password) {
  await page.goto("/auth/login");
  await byTestId(page, "login-email").fill(email);
  await byTestId(page, "login-password").fill(password);
  await byTestId(page, "login-submit").click();
  await page.waitForURL((u) => u.pathname === "/");
  await byTestId(page, "logout-button").waitFor();
}

/**
 * Calls the API from inside the page (same origin, the page's login cookie, the browser's Origin
 * header), as the web app does, and answers the envelope's `data`; a non-2xx answer throws.
 * `csv` = {name, text}: a multipart upload of that file as `file`.
 */
export async function api(page, method, path, { json, csv } = {}) {
  const { status, body } = await page.evaluate(
    async ([m, p, j, c]) => {
      const init = { method: m, credentials: "same-origin", headers: { accept: "application/json" } };
      if (j !== undefined) {
        init.headers["content-type"] = "application/json";
        init.body = JSON.stringify(j);
      } else if (c) {
        init.body = new FormData();
        init.body.append("file", new File([c.text], c.name, { type: "text/csv" }));
      }
      const r = await fetch(p, init);
      return { status: r.status, body: await r.text() };
    },
    [method, path, json, csv],
  );
  assert.ok(status >= 200 && status < 300, `${method} ${path}: ${status} ${body}`);
  return JSON.parse(body).data;
}

/** The logged-in user (`GET /api/v1/me`). */
export const me = (page) => api(page, "GET", "/api/v1/me");

export async function screenshot(page, name) {
  await page.screenshot({ path: join(artifactsDir, `${name}.png`), fullPage: true });
}

/** Polls `probe` until it returns a truthy value (returned) or the deadline passes (throws). */
export async function waitUntil(what, probe, timeoutMs = WAIT.short, intervalMs = 100) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${String(last)})`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Runs `body(browser)` with a fresh Chromium; on failure every open page is saved as
 * `FAILED-<name>-<n>.png` next to the other artifacts. The browser is closed either way.
 */
export async function withBrowser(name, body) {
  const browser = await launchBrowser();
  try {
    await body(browser);
  } catch (err) {
    let n = 0;
    for (const context of browser.contexts()) {
      for (const page of context.pages()) {
        n += 1;
        await page
          .screenshot({ path: join(artifactsDir, `FAILED-${name}-${n}.png`), fullPage: true })
          .catch(() => undefined);
      }
    }
    throw err;
  } finally {
    await browser.close();
  }
}
