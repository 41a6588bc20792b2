// A logged-in person's browser: a notification reaching the bell without a reload, switching
// language both ways, logging out and pressing Back (no private page comes back), and hostile
// display names that must render as text (no dialog may fire) with no `javascript:` link anywhere.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";

import { KefuServer, PASSWORD, chromiumPresent, formLogin, launchBrowser, newContext, outputDir } from "./lib/kefu.mjs";

const skip = chromiumPresent() ? false : "chromium is not installed (scripts/install-deps installs it)";
const HOSTILE = `<script>alert(1)</script>"><img src=x onerror=alert(1)>`;
let server, browser;
const ids = {};

before(async () => {
  if (skip) return;
  server = await KefuServer.start();
  browser = await launchBrowser();
  ids.bell = await server.makeUser("agent.sun", ["agent"], { displayName: "孙客服" });
  await server.makeUser("agent.li", ["agent"], { displayName: "李客服" });
  await server.makeUser("agent.zhou", ["agent"], { displayName: "周客服" });
  await server.makeUser("agent.evil", ["agent"], { displayName: HOSTILE });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("a notification reaches the bell without a reload", { skip }, async () => {
  const ctx = await newContext(browser);
  const page = await ctx.newPage();
  await formLogin(page, server, "agent.sun");
  assert.equal(new URL(page.url()).pathname, "/");
  const before = (await page.textContent("#bell-count")).trim();
  let navigations = 0;
  page.on("framenavigated", (f) => { if (f === page.mainFrame()) navigations++; });
  // the event stream is open once kefu.js ran (DOMContentLoaded); give it a moment to connect
  await page.waitForLoadState("load");
  await page.waitForTimeout(300);
  await server.notify(ids.bell, "0", "notify.test", { n: 1 });
  await page.waitForFunction((b) => document.getElementById("bell-count").textContent.trim() !== b, before,
    { timeout: 10000 });
  assert.equal((await page.textContent("#bell-count")).trim(), String(Number(before || 0) + 1));
  await server.notify(ids.bell, "0", "notify.test", { n: 2 });
  await page.waitForFunction(() => document.getElementById("bell-count").textContent.trim() === "2", null,
    { timeout: 10000 });
  assert.equal(navigations, 0, "no reload happened");
  await ctx.close();
});

test("switching language: English, then back to 中文", { skip }, async () => {
  const ctx = await newContext(browser);
  const page = await ctx.newPage();
  await formLogin(page, server, "agent.li");
  assert.equal(await page.getAttribute("html", "lang"), "zh-CN");
  const zhTitle = await page.title();
  await Promise.all([page.waitForNavigation(), page.click(".lang-switch a[hreflang=en]")]);
  assert.equal(await page.getAttribute("html", "lang"), "en");
  assert.equal((await page.textContent(".lang-switch a[aria-current=true]")).trim(), "English");
  assert.match(await page.textContent("form[action='/logout'] button"), /^\s*Log out\s*$/i);
  assert.match(await page.textContent("#bell"), /Notices/);
  assert.notEqual(await page.title(), zhTitle);
  // the choice is kept: a fresh load of another page speaks English too
  await page.goto(server.url + "/");
  assert.equal(await page.getAttribute("html", "lang"), "en");
  await Promise.all([page.waitForNavigation(), page.click(".lang-switch a[hreflang=zh-CN]")]);
  assert.equal(await page.getAttribute("html", "lang"), "zh-CN");
  assert.match(await page.textContent("#bell"), /通知/);
  assert.equal(await page.title(), zhTitle);
  await ctx.close();
});

test("after logging out, Back shows no private page", { skip }, async () => {
  const ctx = await newContext(browser);
  const page = await ctx.newPage();
  await formLogin(page, server, "agent.zhou");
  const home = await page.goto(server.url + "/");
  assert.equal(home.status(), 200);
  assert.match(home.headers()["cache-control"] || "", /no-store/, "pages are not stored");
  assert.match(await page.textContent("h1"), /周客服/);
  await Promise.all([page.waitForNavigation(), page.click("form[action='/logout'] button")]);
  assert.equal(new URL(page.url()).pathname, "/login");
  assert.ok(await page.isVisible("#username"));
  await page.goBack();
  await page.waitForLoadState("load");
  const body = await page.textContent("body");
  assert.ok(!body.includes("周客服"), "the home page's private content is not shown again");
  assert.ok(await page.isVisible("#username"), "the log-in form is shown instead");
  assert.equal(new URL(page.url()).pathname, "/login");
  await ctx.close();
});

test("a hostile display name renders as text; no dialog fires; no javascript: link", { skip }, async () => {
  const ctx = await newContext(browser);
  const page = await ctx.newPage();
  // a hostile ?next= must not become the place the form sends the browser
  await page.goto(server.url + "/login?next=" + encodeURIComponent("javascript:alert(1)"));
  const next = await page.getAttribute("input[name=next]", "value");
  assert.ok(!/^\s*javascript:/i.test(next), `next is ${next}`);
  await page.fill("#username", "agent.evil");
  await page.fill("#password", PASSWORD);
  await Promise.all([page.waitForNavigation(), page.click("form.form button[type=submit]")]);
  assert.equal(new URL(page.url()).pathname, "/");
  await page.waitForTimeout(300); // an injected handler (img onerror) would have fired by now
  assert.match(await page.textContent("h1"), /<script>alert\(1\)<\/script>/, "the name shows as text");
  await page.screenshot({ path: path.join(outputDir("screenshots"), "xss-home.zh-CN.1280.png"), fullPage: true });
  assert.equal(await page.locator("main script, header script").count(), 0, "no script element was injected");
  assert.equal(await page.locator("img[onerror], [onerror]").count(), 0, "no handler attribute was injected");
  const hrefs = await page.$$eval("a[href], [src], form[action]", (els) =>
    els.map((e) => e.getAttribute("href") || e.getAttribute("src") || e.getAttribute("action")));
  assert.ok(hrefs.length > 0);
  for (const h of hrefs) assert.ok(!/^\s*javascript:/i.test(h), `a javascript: URL: ${h}`);
  // the language switch and a reload keep it inert
  await Promise.all([page.waitForNavigation(), page.click(".lang-switch a[hreflang=en]")]);
  await page.waitForTimeout(200);
  assert.match(await page.textContent("h1"), /<script>/);
  assert.deepEqual(ctx.dialogs, [], "no JavaScript dialog may fire");
  await ctx.close();
});
