// Scenario 3: the session gate as browsers meet it. The owner's session URL is 403 for another
// logged-in user and 401 for a logged-out browser; after the owner stops the session it is 404.
import assert from "node:assert/strict";
import { test } from "node:test";
import { WAIT, byTestId, newContext, signUp, uniqueEmail, withBrowser } from "./lib.mjs";

/** Opens `url` and answers the HTTP status of the document (no redirects are involved). */
async function statusOf(page, url) {
  const response = await page.goto(url);
  assert.ok(response, `no response for ${url}`);
  return response.status();
}

test("scenario 3: another user gets 403, a logged-out browser 401, a stopped session 404", { timeout: 120_000 }, async () => {
  await withBrowser("gate", async (browser) => {
    const ownerContext = await newContext(browser);
    const owner = await ownerContext.newPage();
    await signUp(owner, uniqueEmail("owner"));
    await owner.goto("/sessions");
    await byTestId(owner, "start-session").click();
    await owner.locator('[data-testid="session-card"][data-status="running"]').waitFor({ timeout: WAIT.long });
    const url = await byTestId(owner, "open-vscode").getAttribute("href");
    assert.match(url ?? "", /^http:\/\/s-[a-z2-7]{8}\.medforge\.localhost:\d+\/$/);

    // The owner gets code-server (its start page redirects to the workspace folder).
    const ownerIde = await ownerContext.newPage();
    assert.equal(await statusOf(ownerIde, url), 200);
    await ownerIde.close();

    const otherContext = await newContext(browser);
    const other = await otherContext.newPage();
    await signUp(other, uniqueEmail("other"));
    assert.equal(await statusOf(other, url), 403);
    assert.equal(JSON.parse(await other.locator("body").innerText()).code, "session_access_denied");

    const anonymous = await (await newContext(browser)).newPage();
    assert.equal(await statusOf(anonymous, url), 401);

    await owner.bringToFront();
    await byTestId(owner, "stop-session").click();
    await owner.locator('[data-testid="session-card"][data-status="stopped"]').waitFor({ timeout: WAIT.long });
    const afterStop = await ownerContext.newPage();
    assert.equal(await statusOf(afterStop, url), 404);
    // …and for the others too: a stopped session is gone for everyone.
    assert.equal(await statusOf(other, url), 404);
  });
});
