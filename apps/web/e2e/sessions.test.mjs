// Scenario 2: sessions → start → live progress from the event stream → "Open VS Code" → the
// code-server workbench on the s-<slug> host, with websocket frames → a file created in the
// editor → stop → the session is stopped and its stop snapshot on disk holds that file.
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { WAIT, byTestId, me, newContext, screenshot, signUp, stack, uniqueEmail, waitUntil, withBrowser } from "./lib.mjs";

const FILE = "e2e.txt";
const TEXT = "written in VS Code by the end-to-end test";

test("scenario 2: start a session, VS Code through the gate, a file, stop, snapshot", { timeout: 180_000 }, async () => {
  await withBrowser("sessions", async (browser) => {
    const context = await newContext(browser);
    const page = await context.newPage();
    await signUp(page, uniqueEmail("coder"));
    const { user_id: userId } = await me(page);

    await byTestId(page, "nav-sessions").click();
    await page.locator('[data-testid="session-card"][data-status="none"]').waitFor();
    await byTestId(page, "start-session").click();

    // Live progress: the event stream opens and delivers the lifecycle up to "running".
    const card = byTestId(page, "session-card");
    await page.locator('[data-testid="session-stream"][data-state="open"]').waitFor();
    await page.locator('[data-testid="session-event"][data-kind="running"]').waitFor({ timeout: WAIT.long });
    await page.locator('[data-testid="session-card"][data-status="running"]').waitFor();
    const kinds = await byTestId(page, "session-event").evaluateAll((els) => els.map((e) => e.getAttribute("data-kind")));
    assert.deepEqual(kinds.slice(0, 1), ["starting"], `events: ${kinds}`);
    const sessionId = await card.getAttribute("data-session-id");
    assert.ok(sessionId);
    assert.match(await byTestId(page, "session-gpu").innerText(), /^\d+$/);
    const href = await byTestId(page, "open-vscode").getAttribute("href");
    const slug = /^http:\/\/s-([a-z2-7]{8})\.medforge\.localhost:\d+\/?$/.exec(href ?? "")?.[1];
    assert.ok(slug, `Open VS Code link: ${href}`);
    await screenshot(page, "sessions-running");

    // "Open VS Code" opens the session host in a new tab; the workbench talks over websockets.
    let framesReceived = 0;
    const sockets = [];
    context.on("page", (p) =>
      p.on("websocket", (ws) => {
        sockets.push(ws.url());
        ws.on("framereceived", () => (framesReceived += 1));
      }),
    );
    const [ide] = await Promise.all([context.waitForEvent("page"), byTestId(page, "open-vscode").click()]);
    await ide.locator(".monaco-workbench").waitFor({ timeout: WAIT.long });
    assert.equal(new URL(ide.url()).host, new URL(href).host);
    await waitUntil("websocket frames from code-server", () => framesReceived > 0);
    assert.ok(sockets.every((u) => new URL(u).host === new URL(href).host), `websockets: ${sockets}`);

    // The folder code-server opened is the session's workspace on disk.
    const folder = new URL(ide.url()).searchParams.get("folder");
    assert.equal(folder, join(stack.workspaceRoot, userId, sessionId));

    // A new file through the Explorer, typed into and saved in the editor.
    const trust = ide.getByRole("button", { name: "Yes, I trust the authors" });
    await trust.click({ timeout: WAIT.long });
    await ide.locator(".explorer-folders-view").hover();
    await ide.locator('.pane-header [aria-label^="New File"]').click();
    const nameBox = ide.locator(".explorer-folders-view .monaco-inputbox input");
    await nameBox.fill(FILE);
    await nameBox.press("Enter");
    await ide.locator(`.tab[aria-label^="${FILE}"]`).waitFor();
    await ide.locator(".monaco-editor .view-lines").first().click();
    await ide.keyboard.type(`${TEXT}\n`);
    await ide.keyboard.press("Control+S");
    const onDisk = join(folder, FILE);
    await waitUntil(`${onDisk} with the typed text`, () => existsSync(onDisk) && readFileSync(onDisk, "utf8").includes(TEXT));
    await screenshot(ide, "vscode");

    // Stop from the sessions page: "stopping", then "stopped", live.
    await page.bringToFront();
    await byTestId(page, "stop-session").click();
    await page.locator('[data-testid="session-event"][data-kind="stopped"]').waitFor({ timeout: WAIT.long });
    await page.locator('[data-testid="session-card"][data-status="stopped"]').waitFor();
    await byTestId(page, "open-vscode-disabled").waitFor();
    await page.locator(`[data-testid="session-history-row"][data-session-id="${sessionId}"][data-status="stopped"]`).waitFor();
    await screenshot(page, "sessions-stopped");

    // The stop snapshot: <root>/.snapshots/<user>/<session>@stop-<ms>/ holds the file.
    const snapshots = join(stack.workspaceRoot, ".snapshots", userId);
    const taken = readdirSync(snapshots).filter((d) => d.startsWith(`${sessionId}@stop-`));
    assert.equal(taken.length, 1, `snapshots in ${snapshots}: ${readdirSync(snapshots)}`);
    assert.equal(readFileSync(join(snapshots, taken[0], FILE), "utf8"), `${TEXT}\n`);
  });
});
