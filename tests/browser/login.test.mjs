// Logging in through the form in a real browser: an agent, an administrator who still owes a second
// factor (sent on to /account/totp), a user typing a one-time code, and a wrong password shown beside
// the field with the user name kept, then corrected.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { KefuServer, PASSWORD, chromiumPresent, formLogin, launchBrowser, newContext, totpCode } from "./lib/kefu.mjs";

const skip = chromiumPresent() ? false : "chromium is not installed (scripts/install-deps installs it)";
let server, browser;

before(async () => {
  if (skip) return;
  server = await KefuServer.start();
  browser = await launchBrowser();
  await server.makeUser("agent.zhao", ["agent"], { displayName: "赵客服" });
  await server.makeUser("admin.qian", ["admin"], { displayName: "钱管理" });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("an agent logs in through the form and sees the home page", { skip }, async () => {
  const ctx = await newContext(browser);
  const page = await ctx.newPage();
  await formLogin(page, server, "agent.zhao");
  assert.equal(new URL(page.url()).pathname, "/");
  assert.match(await page.textContent("h1"), /赵客服/);
  assert.ok(await page.isVisible("form[action='/logout'] button"), "the log-out button is shown");
  assert.deepEqual(ctx.dialogs, []);
  await ctx.close();
});

test("an administrator without a second factor is sent on to /account/totp", { skip }, async () => {
  const ctx = await newContext(browser);
  const page = await ctx.newPage();
  const answers = [];
  page.on("response", (r) => { if (r.request().method() === "POST" && r.url().endsWith("/login")) answers.push(r); });
  await formLogin(page, server, "admin.qian");
  assert.equal(answers.length, 1);
  assert.equal(answers[0].status(), 303);
  assert.equal(answers[0].headers().location, "/account/totp");
  // the page itself may not be merged yet: only the target is this test's business
  assert.equal(new URL(page.url()).pathname, "/account/totp");
  await ctx.close();
});

test("a user with a second factor logs in by typing the one-time code", { skip }, async () => {
  const admin = await server.admin(); // enrolled through the API (begin + confirm)
  assert.ok(admin.totpSecret);
  await server.advance(30000); // the confirm's code is spent: the next step has a fresh one
  const ctx = await newContext(browser);
  const page = await ctx.newPage();
  // without the code: the form asks for it, beside the code field
  await formLogin(page, server, "admin");
  assert.equal(new URL(page.url()).pathname, "/login");
  assert.ok(await page.isVisible("#totp_code-error"), "the code's error is beside the code field");
  assert.equal(await page.getAttribute("#totp_code", "aria-invalid"), "true");
  await formLogin(page, server, "admin", undefined, totpCode(admin.totpSecret, await server.clockNow()));
  assert.equal(new URL(page.url()).pathname, "/");
  assert.match(await page.textContent("h1"), /admin/);
  await ctx.close();
});

test("a wrong password is shown beside the field, the user name kept; then corrected", { skip }, async () => {
  const ctx = await newContext(browser);
  const page = await ctx.newPage();
  await page.goto(server.url + "/login");
  await page.fill("#username", "agent.zhao");
  await page.fill("#password", "not-the-password");
  await Promise.all([page.waitForNavigation(), page.press("#password", "Enter")]); // the keyboard submits
  assert.equal(new URL(page.url()).pathname, "/login");
  assert.equal(await page.inputValue("#username"), "agent.zhao", "the user name is kept");
  assert.equal(await page.inputValue("#password"), "", "the password is never sent back");
  assert.equal(await page.getAttribute("#password", "aria-invalid"), "true");
  assert.equal(await page.getAttribute("#password", "aria-describedby"), "password-error");
  const msg = (await page.textContent("#password-error")).trim();
  assert.ok(msg.length > 0 && !/^login\./.test(msg), `a message, not a key: ${msg}`);
  assert.ok(await page.isVisible("#form-error[role=alert]"));
  // fixing it: the password only, the user name is already there
  await page.fill("#password", PASSWORD);
  await Promise.all([page.waitForNavigation(), page.click("form.form button[type=submit]")]);
  assert.equal(new URL(page.url()).pathname, "/");
  await ctx.close();
});
