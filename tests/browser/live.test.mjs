// Live request lists (issue 7 item 2): an agent's /requests page updates without a reload when a
// request changes — on PostgreSQL when the change is made through ANOTHER kefu process on the same
// database (LISTEN/NOTIFY), on SQLite within the one process. The row's new status appears, a new
// request's row appears, and the page is the same document throughout (no navigation); when the server
// goes away only a small offline hint appears. Screenshots
// land in tests/browser/output/live/ for people to look at.
import assert from "node:assert/strict";
import path from "node:path";
import { after, test } from "node:test";

import { ApiSession, KefuServer, PG_ADMIN, chromiumPresent, formLogin, launchBrowser, newContext,
  outputDir } from "./lib/kefu.mjs";

const noChromium = chromiumPresent() ? false : "chromium is not installed (scripts/install-deps installs it)";
const noPostgres = PG_ADMIN ? false
  : "KEFU_TEST_PG_URL is not set: two processes need a shared PostgreSQL (scripts/test starts one and exports it)";
const servers = [];
let browser;

after(async () => {
  await browser?.close();
  for (const s of servers.reverse()) await s.stop();
});

/* A client with an active agreement, an agent, and one request: {clientId, requestId}. */
async function seed(server, tag) {
  const admin = await server.admin();
  const org = await admin.call("POST", "/api/v1/orgs", { name: `实时列表客户${tag}` });
  assert.equal(org.status, 201, org.body);
  const clientId = org.json.id;
  await server.makeUser(`lv.boss.${tag}`, ["client_admin"], { clientId });
  await server.makeUser(`lv.agent.${tag}`, ["agent"], { displayName: "实时客服" });
  const g = await admin.call("POST", "/api/v1/agreements", { client_id: clientId, term_years: 1, notice_days: 30,
    services: [{ kind: "technical_support" }] });
  assert.equal(g.status, 201, g.body);
  assert.equal((await admin.call("POST", `/api/v1/agreements/${g.json.id}/sign-provider?client_id=${clientId}`)).status, 200);
  const boss = await server.login(`lv.boss.${tag}`);
  assert.equal((await boss.call("POST", `/api/v1/agreements/${g.json.id}/sign-client`)).status, 200);
  const r = await admin.call("POST", "/api/v1/requests", { client_id: clientId, service_kind: "technical_support",
    channel: "phone", subject: "会议室投影仪无信号", body: "HDMI 接口无输出。" });
  assert.equal(r.status, 201, r.body);
  return { clientId, requestId: r.json.id };
}

/* Opens /requests on `viewer` as the agent, changes the request through `writer` (the same process
 * on SQLite, the other one on PostgreSQL) and waits for the page to show it without reloading. */
async function watchChange(viewer, writer, tag) {
  const { clientId, requestId } = await seed(viewer, tag);
  browser ||= await launchBrowser();
  const ctx = await newContext(browser, { viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  await formLogin(page, viewer, `lv.agent.${tag}`);
  await page.goto(`${viewer.url}/requests?lang=zh-CN`);
  const row = `#requests-live #request-${requestId}`;
  await page.waitForSelector(`${row} .status-new`);
  await page.evaluate(() => { window.kefuSameDocument = true; });
  // the stream is open before the change is made (else the change could come before the listener)
  await page.waitForSelector("html[data-stream=open]");
  const viewerAdmin = await viewer.admin();
  const admin = new ApiSession(writer, viewerAdmin.cookie, viewerAdmin.csrf, viewerAdmin.user); // sessions live in the database
  const r = await admin.call("POST", `/api/v1/requests/${requestId}/status?client_id=${clientId}`, { status: "open" });
  assert.equal(r.status, 200, r.body);
  await page.waitForSelector(`${row} .status-open`, { timeout: 20000 });
  assert.equal(await page.textContent(`${row} .status`), "处理中");
  // a request raised elsewhere appears as a new row
  const n = await admin.call("POST", "/api/v1/requests", { client_id: clientId, service_kind: "technical_support",
    channel: "email", subject: "新来的工单:邮件无法发送" });
  assert.equal(n.status, 201, n.body);
  await page.waitForSelector(`#requests-live #request-${n.json.id}`, { timeout: 20000 });
  assert.equal(await page.evaluate(() => window.kefuSameDocument), true, "updated in place, not reloaded");
  assert.equal(await page.locator(".live-offline:not([hidden])").count(), 0, "no offline hint while all is well");
  assert.deepEqual(ctx.dialogs, []);
  assert.deepEqual(ctx.pageErrors || [], []);
  await page.screenshot({ path: path.join(outputDir("live"), `requests-${tag}.png`), fullPage: true });
  return { ctx, page };
}

test("the request list follows a change made through another kefu process (PostgreSQL LISTEN/NOTIFY)",
  { skip: noChromium || noPostgres }, async () => {
    const a = await KefuServer.start({ postgres: true });
    servers.push(a);
    const b = await KefuServer.start({ sameDatabaseAs: a });
    servers.push(b);
    const { ctx } = await watchChange(a, b, "pg");
    await ctx.close();
  });

test("the request list follows a change in the same process (SQLite)", { skip: noChromium }, async () => {
  const s = await KefuServer.start();
  servers.push(s);
  const { ctx, page } = await watchChange(s, s, "sqlite");
  // the server goes away (SIGTERM ends every stream): only the small offline hint shows, the list stays
  await s.stop();
  await page.waitForSelector(".live-offline:not([hidden])", { timeout: 20000 });
  assert.match(await page.textContent(".live-offline"), /离线/);
  assert.equal(await page.locator("#requests-live tbody tr").count(), 2, "the rows stay");
  await page.screenshot({ path: path.join(outputDir("live"), "requests-offline.png"), fullPage: true });
  assert.deepEqual(ctx.dialogs, []);
  await ctx.close();
});
