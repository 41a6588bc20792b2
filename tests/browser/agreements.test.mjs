// The agreement pages in a real browser (issue 5 item 8; C1.1, C1.3.1, C2.2.2): an account manager
// drafts an agreement through the form (client, term, a service with a personalised target and a fee
// typed in yuan, Markdown terms), signs it for the provider on the confirmation page, and the client's
// admin signs it for the client and sees it active with its contract number. A bad fee is shown beside
// its field with the input kept. Screenshots land in output/agreements/.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";

import { KefuServer, chromiumPresent, formLogin, launchBrowser, newContext, outputDir } from "./lib/kefu.mjs";

const skip = chromiumPresent() ? false : "chromium is not installed (scripts/install-deps installs it)";
let server, browser, clientId;

before(async () => {
  if (skip) return;
  server = await KefuServer.start();
  browser = await launchBrowser();
  await server.makeUser("am.zhou", ["account_manager"], { displayName: "周经理" });
  const admin = await server.admin();
  const r = await admin.call("POST", "/api/v1/orgs", { name: "浏览器合同客户公司" });
  assert.equal(r.status, 201);
  clientId = r.json.id;
  await server.makeUser("boss.qian", ["client_admin"], { clientId, displayName: "钱总" });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function submit(page, selector = "form.agreement-form button[type=submit]") {
  const [resp] = await Promise.all([page.waitForNavigation(), page.click(selector)]);
  return resp;
}

test("a draft made through the form, signed on both sides, is active with its number", { skip }, async () => {
  const dir = outputDir("agreements");
  const ctx = await newContext(browser, { viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  await formLogin(page, server, "am.zhou");
  await page.goto(`${server.url}/agreements`);
  await Promise.all([page.waitForNavigation(), page.click("a[href='/agreements/new']")]);
  await page.selectOption("#client_id", clientId);
  await page.fill("#term_years", "2");
  await page.check("#svc_technical_support");
  await page.fill("input[name=t_technical_support_p1_fr]", "15");
  await page.fill("input[name=t_technical_support_p1_res]", "120");
  // a bad fee first: shown beside its field, the input kept
  await page.fill("#fee_technical_support_fixed_month", "八千");
  await page.fill("#supplementary_terms", "## 补充条款\n\n未尽事宜按**行业惯例**执行。");
  let resp = await submit(page);
  assert.equal(resp.status(), 422);
  assert.equal(await page.getAttribute("#fee_technical_support_fixed_month", "aria-invalid"), "true");
  assert.ok((await page.textContent("#fee_technical_support_fixed_month-error")).includes("元"));
  assert.equal(await page.inputValue("#term_years"), "2");
  assert.ok(await page.isChecked("#svc_technical_support"));
  await page.screenshot({ path: path.join(dir, "form-error.png"), fullPage: true });
  await page.fill("#fee_technical_support_fixed_month", "8,000.00");
  resp = await submit(page);
  assert.equal(resp.status(), 200);
  assert.match(new URL(page.url()).pathname, /^\/agreements\/\d+$/);
  const url = page.url().split("?")[0] + `?client_id=${clientId}`;
  const body = await page.textContent("main");
  assert.ok(body.includes("¥8,000.00") && body.includes("个性化") && body.includes("草稿"), body);
  assert.equal(await page.textContent(".markdown strong"), "行业惯例");
  await page.screenshot({ path: path.join(dir, "draft.png"), fullPage: true });
  // party A
  await Promise.all([page.waitForNavigation(), page.click("a[href*='/sign-provider']")]);
  await page.screenshot({ path: path.join(dir, "sign-provider.png"), fullPage: true });
  resp = await submit(page, "form.actions button[type=submit]");
  assert.equal(resp.status(), 200);
  assert.ok((await page.textContent("main")).includes("甲方已签"));
  await ctx.close();
  // party B, in its own browser
  const ctxB = await newContext(browser, { viewport: { width: 360, height: 800 } });
  const pageB = await ctxB.newPage();
  await formLogin(pageB, server, "boss.qian");
  await pageB.goto(url.replace(/\?client_id=\d+$/, ""));
  await Promise.all([pageB.waitForNavigation(), pageB.click("a[href*='/sign-client']")]);
  assert.ok((await pageB.textContent("main")).includes("¥8,000.00"), "party B sees what it signs");
  resp = await submit(pageB, "form.actions button[type=submit]");
  assert.equal(resp.status(), 200);
  const done = await pageB.textContent("main");
  assert.ok(done.includes("生效中"), done);
  assert.match(done, /KF-\d{4}-0001/);
  assert.equal(await pageB.locator("a[href*='/sign-client'], a[href*='/edit']").count(), 0, "nothing left to sign or edit");
  const sw = await pageB.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(sw <= 360, `the active agreement is ${sw} px wide on a phone`);
  await pageB.screenshot({ path: path.join(dir, "active-phone.png"), fullPage: true });
  assert.deepEqual(ctxB.pageErrors || [], []);
  assert.deepEqual(ctxB.dialogs, []);
  await ctxB.close();
});

/* The datetime-local value (Asia/Shanghai, UTC+8 without daylight saving) of UTC ms. */
function shanghaiLocal(ms) {
  return new Date(ms + 8 * 3600 * 1000).toISOString().slice(0, 16);
}

test("a service change proposed through the form is listed with its notice, a date inside the notice period refused (C8.1.1)", { skip }, async () => {
  const dir = outputDir("agreements");
  const admin = await server.admin();
  const a = await admin.call("POST", "/api/v1/agreements", { client_id: clientId, term_years: 2, notice_days: 30,
    services: [{ kind: "technical_support", fees: [{ kind: "fixed_month", amount_fen: 800000 }] }, { kind: "maintenance" }] });
  assert.equal(a.status, 201);
  const q = `?client_id=${clientId}`;
  assert.equal((await admin.call("POST", `/api/v1/agreements/${a.json.id}/sign-provider${q}`)).status, 200);
  const boss = await server.login("boss.qian");
  assert.equal((await boss.call("POST", `/api/v1/agreements/${a.json.id}/sign-client`)).status, 200);
  const ctx = await newContext(browser, { viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  await formLogin(page, server, "am.zhou");
  await page.goto(`${server.url}/agreements/${a.json.id}${q}`);
  await Promise.all([page.waitForNavigation(), page.click("a[href*='/changes/new']")]);
  assert.ok((await page.textContent("main")).includes("最早可生效时间"));
  const now = await server.clockNow();
  await page.fill("#summary", "技术支持月费调整为9,000元");
  await page.fill("input[name=fee_technical_support_fixed_month]", "9,000.00");
  // ten days ahead is inside the 30 days' notice: refused beside the date, nothing sent
  await page.fill("#effective_at", shanghaiLocal(now + 10 * 86400000));
  let resp = await submit(page, "form.change-form button[type=submit]");
  assert.equal(resp.status(), 422);
  assert.equal(await page.getAttribute("#effective_at", "aria-invalid"), "true");
  assert.ok((await page.textContent("#effective_at-error")).includes("通知期"));
  assert.equal(await page.inputValue("#summary"), "技术支持月费调整为9,000元");
  await page.screenshot({ path: path.join(dir, "change-error.png"), fullPage: true });
  await page.fill("#effective_at", shanghaiLocal(now + 31 * 86400000));
  resp = await submit(page, "form.change-form button[type=submit]");
  assert.equal(resp.status(), 200);
  const section = await page.textContent("#changes");
  assert.ok(section.includes("待生效") && section.includes("技术支持月费调整为9,000元"), section);
  assert.equal(await page.locator("#changes a[href^='/notices/']").count(), 1, "the change links its notice");
  assert.ok((await page.textContent("#notices")).includes("服务变更通知"), "the notice is listed too");
  await page.screenshot({ path: path.join(dir, "change-listed.png"), fullPage: true });
  // the withdrawal goes through its confirmation page
  await Promise.all([page.waitForNavigation(), page.click("#changes a[href*='/withdraw']")]);
  await page.screenshot({ path: path.join(dir, "change-withdraw.png"), fullPage: true });
  resp = await submit(page, "form button.button-danger");
  assert.equal(resp.status(), 200);
  assert.ok((await page.textContent("#changes")).includes("已撤回"));
  assert.deepEqual(ctx.pageErrors || [], []);
  await ctx.close();
});
