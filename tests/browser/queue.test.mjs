// The agent queue through a real browser (issue 7 item 2): a supervisor opens /queue, checks two rows,
// assigns them to an agent with the bulk bar (confirming the question), sees both rows change and the
// counts of the views follow; the page stays usable on a 360 px phone. Screenshots land in
// tests/browser/output/queue/ for people to look at.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";

import { KefuServer, chromiumPresent, formLogin, launchBrowser, newContext, outputDir } from "./lib/kefu.mjs";

const skip = chromiumPresent() ? false : "chromium is not installed (scripts/install-deps installs it)";
let server, browser, clientId, agentId;
const ids = [];

before(async () => {
  if (skip) return;
  server = await KefuServer.start();
  browser = await launchBrowser();
  const admin = await server.admin();
  const org = await admin.call("POST", "/api/v1/orgs", { name: "队列测试客户公司" });
  assert.equal(org.status, 201);
  clientId = org.json.id;
  await server.makeUser("q.boss", ["client_admin"], { clientId, displayName: "乙方赵经理" });
  agentId = (await server.makeUser("q.agent", ["agent"], { displayName: "吴客服" }));
  await server.makeUser("q.sup", ["supervisor"], { displayName: "李主管" });
  const g = await admin.call("POST", "/api/v1/agreements", { client_id: clientId, term_years: 1, notice_days: 30,
    services: [{ kind: "technical_support" }] });
  assert.equal(g.status, 201, g.body);
  assert.equal((await admin.call("POST", `/api/v1/agreements/${g.json.id}/sign-provider?client_id=${clientId}`)).status, 200);
  const boss = await server.login("q.boss");
  assert.equal((await boss.call("POST", `/api/v1/agreements/${g.json.id}/sign-client`)).status, 200);
  for (const [subject, priority] of [["财务部打印机卡纸", "P1"], ["会议室投影仪无信号", "P2"], ["新员工邮箱开通", "P4"]]) {
    const r = await admin.call("POST", "/api/v1/requests", { client_id: clientId, service_kind: "technical_support",
      channel: "phone", priority, subject });
    assert.equal(r.status, 201, r.body);
    ids.push(r.json.id);
  }
  const sup = await server.login("q.sup");
  assert.equal((await sup.call("POST", "/api/v1/request-views",
    { name: "未分配", shared: true, filters: { assignee: "unassigned" } })).status, 201);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("queue: select two rows, bulk assign, see them change", { skip }, async () => {
  const dir = outputDir("queue");
  const ctx = await newContext(browser, { viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  await formLogin(page, server, "q.sup");
  await page.goto(`${server.url}/queue?lang=zh-CN&sort=sla_due`);
  assert.equal(await page.locator("#queue-table[data-live=requests] tbody tr").count(), 3);
  assert.equal(await page.locator("#queue-counts[data-live=requests]").count(), 1);
  assert.match(await page.textContent("#queue-counts"), /未分配\s*3/);
  // sorted by SLA due: the P1 first
  assert.match(await page.textContent("#queue-table tbody tr:first-child"), /财务部打印机卡纸/);
  await page.check(`input[name=ids][value="${ids[0]}"]`);
  await page.check(`input[name=ids][value="${ids[1]}"]`);
  await page.selectOption("#b-assignee", String(agentId));
  await page.screenshot({ path: path.join(dir, "selected-1280.png"), fullPage: true });
  // data-confirm's question: this one is expected (the context's watcher would dismiss it)
  const asked = [];
  page.removeAllListeners("dialog");
  page.on("dialog", async (d) => { asked.push(`${d.type()}: ${d.message()}`); await d.accept(); });
  await Promise.all([page.waitForNavigation(), page.click("#b-assign")]);
  assert.deepEqual(asked, ["confirm: 确定修改所有勾选的请求吗？"]);
  assert.match(page.url(), /done=2/);
  assert.match(await page.textContent("main"), /已修改 2 个请求/);
  for (const id of ids.slice(0, 2))
    assert.match(await page.textContent(`#queue-table tr[data-request="${id}"] .assignee`), /吴客服/);
  assert.equal((await page.textContent(`#queue-table tr[data-request="${ids[2]}"] .assignee`)).trim(), "");
  assert.match(await page.textContent("#queue-counts"), /未分配\s*1/);
  await page.screenshot({ path: path.join(dir, "assigned-1280.png"), fullPage: true });
  await ctx.close();
});

test("queue: a dismissed confirmation changes nothing; a phone gets no sideways page", { skip }, async () => {
  const dir = outputDir("queue");
  const ctx = await newContext(browser, { viewport: { width: 360, height: 740 } });
  const page = await ctx.newPage();
  await formLogin(page, server, "q.sup");
  await page.goto(`${server.url}/queue?lang=zh-CN`);
  await page.check(`input[name=ids][value="${ids[2]}"]`);
  // the watcher of newContext dismisses the confirmation: nothing is sent
  await page.click("#b-status-submit");
  await page.waitForTimeout(300);
  assert.doesNotMatch(page.url(), /done=/);
  assert.deepEqual(ctx.dialogs, ["confirm: 确定修改所有勾选的请求吗？"]);
  const admin = await server.admin();
  const r = await admin.call("GET", `/api/v1/requests/${ids[2]}?client_id=${clientId}`);
  assert.equal(r.json.status, "new", "the dismissed bulk change sent nothing");
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 360, `no sideways scrolling at 360 px (${width})`);
  await page.screenshot({ path: path.join(dir, "queue-360.png"), fullPage: true });
  await ctx.close();
});
