// Scenario 1: sign up → competitions → download the sample submission → drop it on the upload
// form → its score → yourself on the leaderboard by display name; a broken file → the line and
// column of the error. Also the pages a participant sees on the way (home, settings, datasets).
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { WAIT, byTestId, newContext, screenshot, signUp, uniqueEmail, withBrowser } from "./lib.mjs";

const SLUG = "titanic-survival";

/** Drops a file on the dropzone the way a browser does (a `drop` event with a DataTransfer). */
async function dropFile(page, testId, name, content) {
  const dataTransfer = await page.evaluateHandle(
    ([fileName, text]) => {
      const dt = new DataTransfer();
      dt.items.add(new File([text], fileName, { type: "text/csv" }));
      return dt;
    },
    [name, content],
  );
  const zone = byTestId(page, testId);
  await zone.dispatchEvent("dragenter", { dataTransfer });
  await zone.dispatchEvent("dragover", { dataTransfer });
  await zone.dispatchEvent("drop", { dataTransfer });
}

test("scenario 1: sign up, download the sample, upload it, score, leaderboard, broken file", { timeout: 120_000 }, async () => {
  await withBrowser("competitions", async (browser) => {
    const context = await newContext(browser);
    const page = await context.newPage();

    await signUp(page, uniqueEmail("participant"));
    await byTestId(page, "competition-list").waitFor();
    await screenshot(page, "competitions");

    // A display name of our own, so the leaderboard shows it (the default is user-<id prefix>).
    const displayName = `E2E Ada ${randomBytes(3).toString("hex")}`;
    await byTestId(page, "nav-settings").click();
    await byTestId(page, "profile-display-name").fill(displayName);
    await byTestId(page, "profile-save").click();
    await byTestId(page, "profile-saved").waitFor();
    await screenshot(page, "settings");

    await byTestId(page, "nav-home").click();
    await page.locator(`[data-testid="competition-card"][data-slug="${SLUG}"]`).waitFor();
    await screenshot(page, "home");

    // Competitions → the detail page.
    await byTestId(page, "nav-competitions").click();
    await page.locator(`[data-testid="competition-card"][data-slug="${SLUG}"]`).click();
    await page.waitForURL((u) => u.pathname === `/competitions/${SLUG}`);
    await byTestId(page, "markdown").waitFor();
    const cap = Number(/^(\d+) submissions/.exec(await byTestId(page, "competition-cap").innerText())?.[1]);
    const remaining = await byTestId(page, "competition-remaining").innerText();
    assert.ok(cap > 0 && remaining.startsWith(`${cap} `), `cap ${cap}, remaining today: ${remaining}`);
    await screenshot(page, "competition");

    // The sample submission, downloaded by the browser.
    const [download] = await Promise.all([page.waitForEvent("download"), byTestId(page, "download-sample").click()]);
    const fileName = download.suggestedFilename();
    assert.equal(fileName, `${SLUG}-sample_submission.csv`);
    const sample = await readFile(await download.path(), "utf8");
    assert.match(sample, /^PassengerId,Survived\r?\n892,/);

    // Submit it: dropped on the dropzone; the progress bar runs to "done" and the score shows.
    await byTestId(page, "competition-submit-link").click();
    await page.waitForURL((u) => u.pathname === `/competitions/${SLUG}/submit`);
    await dropFile(page, "upload-dropzone", fileName, sample);
    await page.locator('[data-testid="upload-filename"]', { hasText: fileName }).waitFor();
    await byTestId(page, "upload-submit").click();
    await page.locator('[data-testid="upload-result"][data-status="scored"]').waitFor({ timeout: WAIT.long });
    await page.locator('[data-testid="upload-progress"][data-phase="done"]').waitFor();
    const score = Number(await byTestId(page, "upload-score").innerText());
    assert.ok(score >= 0 && score <= 1, `accuracy score: ${score}`);
    await screenshot(page, "submit-scored");

    // The leaderboard: our display name with that score.
    await byTestId(page, "tab-leaderboard").click();
    await page.waitForURL((u) => u.pathname === `/competitions/${SLUG}/leaderboard`);
    const row = page.locator('[data-testid="leaderboard-row"]', { hasText: displayName });
    await row.waitFor();
    assert.equal(Number(await row.locator('[data-testid="leaderboard-score"]').innerText()), score);
    await byTestId(page, "leaderboard-chart").waitFor();
    await screenshot(page, "leaderboard");

    // A broken file, through the file input: refused with its line and column.
    await byTestId(page, "tab-submit").click();
    await page.waitForURL((u) => u.pathname === `/competitions/${SLUG}/submit`);
    await byTestId(page, "upload-input").setInputFiles({
      name: "broken.csv",
      mimeType: "text/csv",
      buffer: Buffer.from("PassengerId,Survived\n892,0\n893,maybe\n"),
    });
    await byTestId(page, "upload-submit").click();
    await byTestId(page, "upload-error").waitFor();
    assert.equal(await byTestId(page, "upload-error").getAttribute("data-code"), "submission_invalid");
    assert.equal(await byTestId(page, "upload-error-line").innerText(), "3");
    assert.equal(await byTestId(page, "upload-error-column").innerText(), "Survived");
    await page.locator('[data-testid="upload-progress"][data-phase="error"]').waitFor();
    await screenshot(page, "submit-error");

    // My submissions: the scored one (a refused file is not stored).
    await byTestId(page, "tab-my-submissions").click();
    const mine = page.locator('[data-testid="submission-row"]');
    await mine.first().waitFor();
    assert.equal(await mine.count(), 1);
    assert.equal(await mine.first().getAttribute("data-status"), "scored");

    // The competition's dataset: list and detail.
    await byTestId(page, "nav-datasets").click();
    await byTestId(page, "dataset-table").waitFor();
    await screenshot(page, "datasets");
    await page.locator('[data-testid="dataset-row"] a').first().click();
    await byTestId(page, "dataset-files").waitFor();
    assert.match(await byTestId(page, "dataset-checksum").innerText(), /[0-9a-f]{16}/);
    await screenshot(page, "dataset");
  });
});
