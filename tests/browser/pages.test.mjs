// Every page of the route table (docs/openapi.yaml, GET with tag `pages`) in a real browser, in both
// languages at a 360 px phone width and a 1280 px desktop width: it answers 200, nothing overflows
// the phone's width, no script error, and a screenshot lands in the output folder for people to look
// at. Then the home page's first contentful paint on loopback, reported as a figure, never asserted.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";

import { KefuServer, chromiumPresent, firstPaint, launchBrowser, newContext, outputDir, pageRoutes, request } from "./lib/kefu.mjs";

const skip = chromiumPresent() ? false : "chromium is not installed (scripts/install-deps installs it)";
const LANGS = ["zh-CN", "en"];
const WIDTHS = [360, 1280];
// Routes tagged `pages` that are not pages to look at.
const NOT_PAGES = new Set(["/static/{name}"]);
// Who looks at a page: the administrator sees every page; /login is seen logged out.
const ANONYMOUS = new Set(["/login", "/c/{token}/new", "/t/{token}"]); // the public request pages too
// Pages with a path parameter: how to make an object to show (admin API session → the id). A new
// page with {id} gets a line here; until then it is skipped with the reason printed.
const OBJECTS = {
  "/orgs/{id}": async (admin) => (await created(admin, "/api/v1/orgs", { name: "截图客户公司" })).id,
  "/users/{id}": async (admin) => (await created(admin, "/api/v1/users",
    { client_id: "0", username: "shot.user", display_name: "截图用户", password: "蓝色的海边-灯塔-2026", roles: ["agent"] })).id,
  "/customers/{id}": async (admin) => {
    const org = await created(admin, "/api/v1/orgs", { name: "截图顾客公司" });
    return `${(await created(admin, "/api/v1/customers", { client_id: org.id, name: "截图顾客", phone: "139 0000 0001" })).id}?client_id=${org.id}`;
  },
  "/teams/{id}": async (admin) => (await created(admin, "/api/v1/teams", { name: "截图团队" })).id,
  "/calendars/{id}": async () => "1?year=2026&month=2", // the default calendar of migration 0009
  "/agreements/{id}": async (admin) => agreement(admin, "active"),
  "/agreements/{id}/edit": async (admin) => agreement(admin, "draft"),
  "/agreements/{id}/sign-provider": async (admin) => agreement(admin, "draft"),
  "/agreements/{id}/sign-client": async (admin) => agreement(admin, "provider_signed"),
  "/agreements/{id}/dissolve": async (admin) => agreement(admin, "active"),
  // service changes (C8.1.1): the form, and the withdrawal of a pending change (the agreement's page shows it too)
  "/agreements/{id}/changes/new": async (admin) => agreement(admin, "active"),
  "/agreements/{id}/changes/{change}/withdraw": async (admin) => {
    const ref = await agreement(admin, "active");
    const [aid, q] = ref.split("?");
    const ch = await created(admin, `/api/v1/agreements/${aid}/changes?${q}`, { summary: "技术支持P1首次响应缩短为10分钟,月费调整为9,000元",
      effective_at: (await server.clockNow()) + 31 * 86400000,
      services: [{ kind: "technical_support", targets: { P1: { first_response: 10, resolution: 120 } },
                   fees: [{ kind: "fixed_month", amount_fen: 900000 }] }, { kind: "maintenance" }] });
    return `/agreements/${aid}/changes/${ch.id}/withdraw?${q}`;
  },
  // a registered-mail notice from the provider: its page shows the delivery form (C11.1.1)
  "/notices/{id}": async (admin) => {
    const org = await created(admin, "/api/v1/orgs", { name: "截图通知客户" });
    const n = await created(admin, "/api/v1/notices", { client_id: org.id, kind: "breach", subject: "关于逾期付款的违约通知",
      body: "## 事由\n\n贵方 **11 月** 服务费逾期未付。\n\n- 请于 7 日内付清\n- 逾期将按合同处理", method: "registered_mail",
      tracking_number: "EMS1234567890CN" });
    return `${n.id}?client_id=${org.id}`;
  },
  "/announcements/{id}": async (admin) => {
    await created(admin, "/api/v1/orgs", { name: "截图公告客户" });
    return (await created(admin, "/api/v1/announcements", { all: true, subject: "系统升级公告", body: "本周六 22:00 起升级,约两小时。" })).id;
  },
  // a request under an active agreement with a reply, an internal note, a call and time (issue 6)
  "/requests/{id}": async (admin) => {
    const q = `?client_id=${(await agreement(admin, "active")).split("=")[1]}`;
    const r = await created(admin, "/api/v1/requests", { client_id: q.split("=")[1], service_kind: "technical_support",
      channel: "phone", priority: "P1", subject: "财务部打印机无法连接网络",
      body: "## 现象\n\n财务部 HP-1020 **无法打印**,重启无效。" });
    await created(admin, `/api/v1/requests/${r.id}/replies${q}`, { body: "您好,已收到,工程师将于 30 分钟内联系您。" });
    await created(admin, `/api/v1/requests/${r.id}/notes${q}`, { body: "内部:先查驱动版本,再考虑上门。" });
    await created(admin, `/api/v1/requests/${r.id}/calls${q}`, { kind: "phone", started_at: 1, duration_s: 420, summary: "电话指导重装驱动" });
    await created(admin, `/api/v1/requests/${r.id}/time-entries${q}`, { minutes: 30, billable: true, note: "远程排查" });
    return `${r.id}${q}`;
  },
  // without an account (C3.2.2): client A's public form, and the tracking page of a request raised on it
  "/c/{token}/new": async (admin) => (await intakeLink(admin)).split("/")[2],
  "/t/{token}": async (admin) => {
    const r = await request(server.port, "POST", await intakeLink(admin), { form: { name: "王五", phone: "139 0000 0009",
      service_kind: "technical_support", subject: "路由器指示灯不亮", body: "昨晚**停电**后就不亮了。", website: "" } });
    if (r.status !== 201) throw new Error(`intake: ${r.status} ${r.body}`);
    const t = /id="tracking-link">\/t\/([^<]+)<\/a>/.exec(r.body)[1];
    await created(admin, `/api/v1/requests/${(await admin.call("GET", `/api/v1/requests?client_id=${agreementClient}`)).json.items[0].id}/replies?client_id=${agreementClient}`,
      { body: "您好,已收到,师傅今天下午联系您。" });
    return t;
  },
};

/* The public form link of the screenshots' agreement client (made on its organisation page). */
async function intakeLink(admin) {
  if (intakeCache) return intakeCache; // made once: making it again would end the first link
  await agreement(admin, "active");
  const r = await request(server.port, "POST", `/orgs/${agreementClient}/intake-token`,
    { form: { csrf: admin.csrf }, headers: { Cookie: admin.cookie } });
  if (r.status !== 200) throw new Error(`intake-token: ${r.status} ${r.body}`);
  intakeCache = /id="intake-link">([^<]+)<\/a>/.exec(r.body)[1];
  return intakeCache;
}
let intakeCache = null;

/* An agreement of a client made for the screenshots in `state` (draft, provider_signed, active), with
 * personalised targets, fees and Markdown terms: "<id>?client_id=<client>". */
async function agreement(admin, state) {
  if (!agreementClient) {
    agreementClient = (await created(admin, "/api/v1/orgs", { name: "截图合同客户公司" })).id;
    await server.makeUser("shot.boss", ["client_admin"], { clientId: agreementClient, displayName: "乙方管理员" });
  }
  const a = await created(admin, "/api/v1/agreements", {
    client_id: agreementClient, term_years: 3, notice_days: 30, acceptance_days: 5,
    supplementary_terms: "## 补充条款\n\n1. 未尽事宜按**法律法规**和行业惯例执行。\n2. 现场服务须提前一个工作日预约。",
    services: [{ kind: "technical_support", targets: { P1: { first_response: 15, resolution: 120 } },
                 fees: [{ kind: "fixed_month", amount_fen: 800000 }, { kind: "per_visit", amount_fen: 60000 }] },
               { kind: "maintenance" }, { kind: "training" }],
  });
  const q = `?client_id=${agreementClient}`;
  if (state !== "draft") {
    const r = await admin.call("POST", `/api/v1/agreements/${a.id}/sign-provider${q}`);
    if (r.status !== 200) throw new Error(`sign-provider: ${r.status} ${r.body}`);
  }
  if (state === "active") {
    const boss = await server.login("shot.boss");
    const r = await boss.call("POST", `/api/v1/agreements/${a.id}/sign-client`);
    if (r.status !== 200) throw new Error(`sign-client: ${r.status} ${r.body}`);
  }
  return `${a.id}${q}`;
}
let agreementClient = null;

async function created(admin, url, body) {
  const r = await admin.call("POST", url, body);
  if (r.status !== 201) throw new Error(`POST ${url}: ${r.status} ${r.body}`);
  return r.json;
}

let server, browser, admin;

before(async () => {
  if (skip) return;
  server = await KefuServer.start();
  browser = await launchBrowser();
  admin = await server.admin();
  await server.makeUser("agent.paint", ["agent"], { displayName: "吴客服" });
  await server.notify(admin.user.id, "0", "notify.test", { n: 1 }); // the bell shows a count
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/* The pages to visit: [{route, url (without ?lang), anonymous}] or {route, skip: reason}. */
async function plan() {
  const out = [];
  for (const { path: route, params } of pageRoutes()) {
    if (NOT_PAGES.has(route)) continue;
    if (params.length === 0) {
      out.push({ route, url: route, anonymous: ANONYMOUS.has(route) });
    } else if (OBJECTS[route]) {
      try {
        const id = await OBJECTS[route](admin);
        // an id may carry a query (?client_id=…): it goes after the whole path
        // (a route with two parameters makes its whole path, starting with "/")
        const [bare, query] = String(id).split("?");
        const url = bare.startsWith("/") ? bare : route.replace(/\{\w+\}/, bare);
        out.push({ route, url: url + (query ? `?${query}` : ""), anonymous: ANONYMOUS.has(route) });
      } catch (e) {
        out.push({ route, skip: `could not make its object: ${e.message}` });
      }
    } else {
      out.push({ route, skip: "no way to make its object yet (add a line to OBJECTS)" });
    }
  }
  return out;
}

function slug(route) {
  return route === "/" ? "home" : route.replace(/^\//, "").replace(/[{}]/g, "").replace(/\//g, "-");
}

function withLang(url, lang) {
  return url + (url.includes("?") ? "&" : "?") + "lang=" + lang;
}

async function sessionContext(width, cookieOf) {
  const ctx = await newContext(browser, { viewport: { width, height: 800 } });
  if (cookieOf) {
    const [name, value] = cookieOf.cookie.split("=");
    await ctx.addCookies([{ name, value, url: server.url }]);
  }
  return ctx;
}

test("every page in both languages at 360 px and 1280 px: 200, no overflow, screenshots", { skip }, async (t) => {
  const pages = await plan();
  const dir = outputDir("screenshots");
  const shots = [];
  for (const p of pages) {
    if (p.skip) {
      t.diagnostic(`skipped ${p.route}: ${p.skip}`);
      continue;
    }
    for (const width of WIDTHS) {
      const ctx = await sessionContext(width, p.anonymous ? null : admin);
      const page = await ctx.newPage();
      for (const lang of LANGS) {
        const r = await page.goto(server.url + withLang(p.url, lang));
        assert.equal(r.status(), 200, `${p.url} (${lang}) answered ${r.status()}`);
        assert.equal(await page.getAttribute("html", "lang"), lang, `${p.url} speaks ${lang}`);
        assert.ok((await page.title()).trim().length > 0, `${p.url} has a title`);
        if (width === 360) {
          const sw = await page.evaluate(() => document.documentElement.scrollWidth);
          assert.ok(sw <= width, `${p.url} (${lang}) is ${sw} px wide on a ${width} px phone`);
        }
        const file = path.join(dir, `${slug(p.route)}.${lang}.${width}.png`);
        await page.screenshot({ path: file, fullPage: true });
        shots.push(path.relative(process.cwd(), file));
      }
      assert.deepEqual(ctx.pageErrors || [], [], `script errors on ${p.url}`);
      assert.deepEqual(ctx.dialogs, []);
      await ctx.close();
    }
  }
  t.diagnostic(`${shots.length} screenshots in ${dir}`);
  assert.ok(shots.length >= 4 * 2, "at least /login and / were shot");
});

test("first contentful paint of the home page (a figure, not a check)", { skip }, async (t) => {
  const agent = await server.login("agent.paint");
  const fp = await firstPaint(browser, server.url + "/?lang=zh-CN", agent.cookie, 6);
  const figures = {
    what: "first-contentful-paint of GET / (agent, zh-CN), Chromium headless on loopback",
    chromium: browser.version(),
    ...fp,
    date: new Date().toISOString(),
  };
  fs.writeFileSync(path.join(outputDir(), "first-paint.json"), JSON.stringify(figures, null, 2) + "\n");
  t.diagnostic(`first contentful paint of /: cold ${fp.cold_ms} ms, median ${fp.median_ms} ms ` +
    `over ${fp.samples_ms.length} loads (${figures.chromium})`);
  assert.ok(fp.samples_ms.length > 0, "Chromium reported a first contentful paint");
});
