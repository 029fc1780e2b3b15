// Scenario 4: the admin pages as the bootstrap admin: disable a GPU and enable it again, change a
// user's session cap, and the scoring queue (a user's scored submission, re-scored from there).
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { WAIT, api, byTestId, logIn, me, newContext, screenshot, signUp, stack, uniqueEmail, waitUntil, withBrowser } from "./lib.mjs";

const SAMPLE = fileURLToPath(
  new URL("../../api/data/competitions/titanic-survival/sample_submission.csv", import.meta.url),
);

test("scenario 4: admin disables and enables a GPU, changes a cap, sees the scoring queue", { timeout: 120_000 }, async () => {
  await withBrowser("admin", async (browser) => {
    // A user with a scored submission (uploaded through the API with the user's login).
    const userPage = await (await newContext(browser)).newPage();
    const { email } = await signUp(userPage, uniqueEmail("capped"));
    const { user_id: userId } = await me(userPage);
    const created = await api(userPage, "POST", "/api/v1/competitions/titanic-survival/submissions", {
      csv: { name: "sample.csv", text: await readFile(SAMPLE, "utf8") },
    });
    const submissionId = created.submission.id;
    await waitUntil(
      "the submission to be scored",
      async () => (await api(userPage, "GET", `/api/v1/submissions/${submissionId}`)).status === "scored",
      WAIT.long,
    );

    const page = await (await newContext(browser)).newPage();
    await logIn(page, stack.adminEmail, stack.adminPassword);
    await byTestId(page, "nav-admin").click();
    await page.waitForURL((u) => u.pathname === "/admin");
    await byTestId(page, "admin-ready").waitFor();
    await screenshot(page, "admin");

    // GPUs: disable the last one (no session holds it), then enable it again.
    const gpuId = await page.locator('[data-testid="admin-gpu-row"]').last().getAttribute("data-gpu-id");
    const gpuRow = (enabled) =>
      page.locator(`[data-testid="admin-gpu-row"][data-gpu-id="${gpuId}"][data-enabled="${enabled}"]`);
    const gpuState = async () =>
      (await api(page, "GET", "/api/v1/admin/gpus")).find((g) => String(g.id) === gpuId).enabled;
    await gpuRow(true).locator('[data-testid="admin-gpu-toggle"]').click();
    await gpuRow(false).waitFor();
    assert.equal(await gpuState(), false);
    assert.equal(await gpuRow(false).locator('[data-testid="admin-gpu-state"]').innerText(), "disabled");
    await gpuRow(false).locator('[data-testid="admin-gpu-toggle"]').click();
    await gpuRow(true).waitFor();
    assert.equal(await gpuState(), true);

    // Users: the session cap of the new user, 1 → 3.
    const userRow = page.locator(`[data-testid="admin-user-row"][data-user-id="${userId}"]`);
    assert.equal(await userRow.getAttribute("data-email"), email);
    assert.equal(await userRow.locator('[data-testid="admin-user-cap"]').inputValue(), "1");
    await userRow.locator('[data-testid="admin-user-cap"]').fill("3");
    await userRow.locator('[data-testid="admin-user-save"]').click();
    await userRow.locator('[data-testid="admin-user-saved"]').waitFor();
    assert.equal((await me(userPage)).max_concurrent_sessions, 3);

    // The scoring queue: the user's submission under "scored"; re-score it from there.
    await byTestId(page, "admin-queue-filter").selectOption("scored");
    await page.locator('form:has([data-testid="admin-queue-filter"]) button[type="submit"]').click();
    await page.waitForURL((u) => u.searchParams.get("queue") === "scored");
    const queueRow = page.locator(`[data-testid="admin-queue-row"][data-id="${submissionId}"]`);
    assert.equal(await queueRow.getAttribute("data-status"), "scored");
    await screenshot(page, "admin-queue");
    const before = await api(page, "GET", `/api/v1/submissions/${submissionId}`);
    await queueRow.locator('[data-testid="admin-queue-rescore"]').click();
    await waitUntil(
      "the re-scored submission",
      async () => {
        const s = await api(page, "GET", `/api/v1/submissions/${submissionId}`);
        return s.status === "scored" && s.official_score?.created_at !== before.official_score?.created_at;
      },
      WAIT.long,
    );
    assert.equal(await byTestId(page, "admin-queue-rescore-error").count(), 0);
  });
});
