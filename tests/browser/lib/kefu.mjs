// The browser tests' fixture: a live `kefu serve --test-mode` on SQLite in a temp dir (or on a fresh
// PostgreSQL database of KEFU_TEST_PG_URL, and a second process on the same database), its JSON API
// (users, sessions, the fake clock, test notifications), RFC 6238 codes computed here independently
// of kefu, Debian's chromium through playwright-core, and the list of pages read from the route table.
import { spawn, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, "..", "..", "..");
export const KEFU_BIN = process.env.KEFU_BIN || path.join(ROOT, "build", "release", "kefu");
export const CHROMIUM = process.env.KEFU_CHROMIUM || "/usr/bin/chromium";
export const OUTPUT = process.env.KEFU_TEST_OUTPUT || path.join(ROOT, "tests", "browser", "output");
export const PASSWORD = "蓝色的海边-灯塔-2026";
// 2026-01-01T00:00:00Z, as the system tests (tests/system/conftest.py)
export const CLOCK_START = 1767225600000;

// The flags the brief of this suite fixes: no sandbox (containers, root), nothing fetched from the net.
export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run"];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* One HTTP request with node:http (no Origin header, as the system tests' client): resolves to
 * {status, headers, body (string), json (parsed or null)}. */
export function request(port, method, urlPath, { json, form, headers = {} } = {}) {
  let body = null;
  const h = { ...headers };
  if (json !== undefined) {
    body = Buffer.from(JSON.stringify(json));
    h["Content-Type"] = "application/json";
  } else if (form !== undefined) {
    body = Buffer.from(new URLSearchParams(form).toString());
    h["Content-Type"] = "application/x-www-form-urlencoded";
  }
  if (body) h["Content-Length"] = body.length;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path: urlPath, headers: h, timeout: 30000 }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let parsed = null;
        try { parsed = JSON.parse(text); } catch { /* not JSON: a page */ }
        resolve({ status: res.statusCode, headers: res.headers, body: text, json: parsed });
      });
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${urlPath}: timeout`)));
    req.on("error", reject);
    if (body) req.write(body);
    req.end();
  });
}

/* RFC 6238: HMAC-SHA-1, 6 digits, 30 s steps, for a base32 secret at `nowMs` (the server's clock). */
export function totpCode(secretB32, nowMs, stepOffset = 0) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const ch of secretB32.replace(/=+$/, "").toUpperCase()) {
    const v = alphabet.indexOf(ch);
    if (v < 0) throw new Error("bad base32 secret");
    bits += v.toString(2).padStart(5, "0");
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(nowMs / 1000 / 30) + stepOffset));
  const mac = crypto.createHmac("sha1", Buffer.from(bytes)).update(counter).digest();
  const off = mac[mac.length - 1] & 0x0f;
  const value = mac.readUInt32BE(off) & 0x7fffffff;
  return String(value % 1000000).padStart(6, "0");
}

/* An API session (cookie + CSRF token) of one user. */
export class ApiSession {
  constructor(server, cookie, csrf, user) {
    Object.assign(this, { server, cookie, csrf, user });
  }

  call(method, urlPath, json) {
    const headers = { Cookie: this.cookie };
    if (method !== "GET") headers["X-CSRF-Token"] = this.csrf;
    return request(this.server.port, method, urlPath, { json, headers });
  }

  /* Enrols a second factor (begin, confirm with the code for the server's clock): the secret. */
  async enrolTotp() {
    const b = await this.call("POST", "/api/v1/auth/totp/begin");
    if (b.status !== 200) throw new Error(`totp/begin: ${b.status} ${b.body}`);
    const secret = /secret=([A-Z2-7]+)/.exec(b.json.otpauth_uri)[1];
    const c = await this.call("POST", "/api/v1/auth/totp/confirm", { code: totpCode(secret, await this.server.clockNow()) });
    if (c.status !== 200) throw new Error(`totp/confirm: ${c.status} ${c.body}`);
    return secret;
  }
}

/* The PostgreSQL server the suite may create databases on (scripts/test starts a throwaway cluster
 * and exports it), or null: tests that need PostgreSQL skip with that reason. */
export const PG_ADMIN = process.env.KEFU_TEST_PG_URL || null;
let pgCounter = 0;

/* A fresh, empty PostgreSQL database on PG_ADMIN: its libpq URI. */
export function pgCreateDatabase() {
  if (!PG_ADMIN) throw new Error("KEFU_TEST_PG_URL is not set");
  const name = `browser_${process.pid}_${++pgCounter}`;
  for (const sql of [`DROP DATABASE IF EXISTS ${name}`, `CREATE DATABASE ${name}`]) {
    const r = spawnSync("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", PG_ADMIN, "-c", sql],
      { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    if (r.status !== 0) throw new Error(`psql ${sql}: ${r.stderr}`);
  }
  const [base, query] = PG_ADMIN.split("?");
  return base.slice(0, base.lastIndexOf("/") + 1) + name + (query !== undefined ? "?" + query : "");
}

/* A live kefu; `await server.stop()` at the end. start(): SQLite in its own temp dir.
 * start({ postgres: true }): a fresh PostgreSQL database. start({ sameDatabaseAs: other }): one more
 * process on `other`'s database and key (no init), as several kefu processes behind one PostgreSQL. */
export class KefuServer {
  static async start(opts = {}) {
    const s = new KefuServer();
    await s.#start(opts);
    return s;
  }

  async #start({ postgres = false, sameDatabaseAs = null } = {}) {
    if (!fs.existsSync(KEFU_BIN)) throw new Error(`no kefu binary at ${KEFU_BIN} (run make, or set KEFU_BIN)`);
    const base = process.env.KEFU_TEST_TMP || os.tmpdir();
    this.dir = fs.mkdtempSync(path.join(base, "kefu-browser-"));
    if (sameDatabaseAs) {
      this.db = sameDatabaseAs.db;
      this.keyFile = path.join(this.dir, "k.key");
      fs.copyFileSync(sameDatabaseAs.keyFile, this.keyFile); // the other may remove its dir first
      fs.chmodSync(this.keyFile, 0o600);
    } else {
      this.db = postgres ? pgCreateDatabase() : "sqlite:" + path.join(this.dir, "k.db");
      this.keyFile = path.join(this.dir, "k.key");
      const pw = path.join(this.dir, "pw.txt");
      fs.writeFileSync(pw, PASSWORD + "\n", { mode: 0o600 });
      const init = spawnSync(KEFU_BIN, ["init", "--db", this.db, "--key-file", this.keyFile, "--admin", "admin",
        "--password-file", pw], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
      if (init.status !== 0) throw new Error(`kefu init failed (${init.status}): ${init.stderr}`);
    }
    this.logPath = path.join(this.dir, "kefu.log");
    for (let attempt = 0; attempt < 5; attempt++) {
      this.port = await freePort();
      const log = fs.openSync(this.logPath, "a");
      this.proc = spawn(KEFU_BIN, ["serve", "--db", this.db, "--key-file", this.keyFile,
        "--listen", `127.0.0.1:${this.port}`, "--test-mode", "--clock-start", String(CLOCK_START),
        "--access-log", "off"], { stdio: ["ignore", log, log], cwd: this.dir });
      fs.closeSync(log);
      this.exited = null;
      this.proc.on("exit", (code, sig) => { this.exited = { code, sig }; });
      if (await this.#ready()) return;
      if (!/in use/i.test(this.log())) break; // lost a race for the port: try another
    }
    throw new Error(`kefu did not start: ${this.log().slice(-4000)}`);
  }

  async #ready() {
    for (let i = 0; i < 400; i++) {
      if (this.exited) return false;
      try {
        const r = await request(this.port, "GET", "/healthz");
        if (r.status === 200) return true;
      } catch { /* not listening yet */ }
      await sleep(25);
    }
    return false;
  }

  get url() { return `http://127.0.0.1:${this.port}`; }

  log() {
    try { return fs.readFileSync(this.logPath, "utf8"); } catch { return ""; }
  }

  /* SIGTERM; kefu must drain and exit 0 (docs/architecture.md). Removes the temp dir. */
  async stop() {
    if (this.proc && !this.exited) {
      this.proc.kill("SIGTERM");
      for (let i = 0; i < 300 && !this.exited; i++) await sleep(50);
      if (!this.exited) this.proc.kill("SIGKILL");
    }
    const bad = this.exited && this.exited.code !== 0 ? `kefu exited with ${JSON.stringify(this.exited)}` : null;
    if (!bad) fs.rmSync(this.dir, { recursive: true, force: true });
    if (bad) throw new Error(`${bad}; its log: ${this.logPath}`);
  }

  async clockNow() {
    const r = await request(this.port, "GET", "/api/v1/test/clock");
    return r.json.now_ms;
  }

  async advance(ms) {
    const r = await request(this.port, "POST", "/api/v1/test/clock", { json: { advance_ms: ms } });
    if (r.status !== 200) throw new Error(`advance: ${r.status} ${r.body}`);
    return r.json.now_ms;
  }

  async notify(userId, clientId = "0", key = "notify.test", params = {}) {
    const r = await request(this.port, "POST", "/api/v1/test/notify",
      { json: { user_id: userId, client_id: clientId, message_key: key, params } });
    if (r.status !== 204) throw new Error(`notify: ${r.status} ${r.body}`);
  }

  /* Logs in through the JSON API; `enrol` enrols a second factor when the role needs one. */
  async login(username, password = PASSWORD, { enrol = true } = {}) {
    const r = await request(this.port, "POST", "/api/v1/auth/login", { json: { username, password } });
    if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${r.body}`);
    const cookie = [].concat(r.headers["set-cookie"] || []).find((c) => c.startsWith("kefu_session=")).split(";")[0];
    const s = new ApiSession(this, cookie, r.json.user.csrf_token, r.json.user);
    if (enrol && r.json.user.second_factor_required) s.totpSecret = await s.enrolTotp();
    return s;
  }

  /* The administrator's API session (second factor enrolled on first use). */
  async admin() {
    if (!this.adminSession) this.adminSession = await this.login("admin");
    return this.adminSession;
  }

  /* Creates a user (provider staff by default) through the API: its id. */
  async makeUser(username, roles, { clientId = "0", displayName, language } = {}) {
    const a = await this.admin();
    const body = { client_id: clientId, username, password: PASSWORD, roles };
    if (displayName !== undefined) body.display_name = displayName;
    if (language !== undefined) body.language = language;
    const r = await a.call("POST", "/api/v1/users", body);
    if (r.status !== 201) throw new Error(`make user ${username}: ${r.status} ${r.body}`);
    return r.json.id;
  }
}

/* Debian's chromium through playwright-core (never `npx playwright install`). */
export async function launchBrowser() {
  const { chromium } = await import("playwright-core");
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

export function chromiumPresent() {
  return fs.existsSync(CHROMIUM);
}

/* A new browser context that fails the test on any JavaScript dialog (alert, confirm, prompt): an
 * injected script would show one. `dialogs` collects what fired. */
export async function newContext(browser, options = {}) {
  const context = await browser.newContext({ locale: "zh-CN", ...options });
  context.dialogs = [];
  context.on("page", (p) => watchPage(context, p));
  return context;
}

function watchPage(context, page) {
  page.on("dialog", async (d) => {
    context.dialogs.push(`${d.type()}: ${d.message()}`);
    await d.dismiss().catch(() => {});
  });
  page.on("pageerror", (e) => { (context.pageErrors ||= []).push(String(e)); });
}

/* Fills the log-in form and submits it; resolves after the navigation the form causes. */
export async function formLogin(page, server, username, password = PASSWORD, totp = null) {
  await page.goto(server.url + "/login");
  await page.fill("#username", username);
  await page.fill("#password", password);
  if (totp !== null) await page.fill("#totp_code", totp);
  await Promise.all([page.waitForNavigation(), page.click("form.form button[type=submit]")]);
}

/* The GET page routes of docs/openapi.yaml tagged `pages`, as [{path, params: [names]}], read with a
 * small line scanner (the file's layout is fixed: two-space path keys, four-space methods, a tags
 * line). Pages merged later appear here without a change to the tests. */
export function pageRoutes(file = path.join(ROOT, "docs", "openapi.yaml")) {
  const lines = fs.readFileSync(file, "utf8").split("\n");
  const out = [];
  let inPaths = false, route = null, method = null;
  for (const line of lines) {
    if (/^paths:\s*$/.test(line)) { inPaths = true; continue; }
    if (inPaths && /^\S/.test(line)) inPaths = false;
    if (!inPaths) continue;
    let m;
    if ((m = /^ {2}(\/\S*):\s*$/.exec(line))) { route = m[1]; method = null; continue; }
    if ((m = /^ {4}(get|post|put|patch|delete):\s*$/.exec(line))) { method = m[1]; continue; }
    if (route && method === "get" && /^ {6}tags:\s*\[[^\]]*\bpages\b/.test(line)) {
      out.push({ path: route, params: [...route.matchAll(/\{(\w+)\}/g)].map((x) => x[1]) });
    }
  }
  return out;
}

export function outputDir(...sub) {
  const d = path.join(OUTPUT, ...sub);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

/* First contentful paint of `url` loaded `n` times in one context carrying `cookie` ("name=value"):
 * {samples_ms, cold_ms, median_ms, resources (of the cold load: transfer, encoded, decoded bytes)}. The
 * first load is cold (nothing cached); the others reuse the style sheet and script. */
export async function firstPaint(browser, url, cookie, n = 6) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "zh-CN" });
  if (cookie) {
    const [name, value] = cookie.split("=");
    await context.addCookies([{ name, value, url: new URL(url).origin }]);
  }
  const page = await context.newPage();
  const samples = [];
  let resources = [];
  for (let i = 0; i < n; i++) {
    await page.goto(url, { waitUntil: "load" });
    const fcp = await page.evaluate(() => new Promise((resolve) => {
      const get = () => performance.getEntriesByName("first-contentful-paint")[0];
      if (get()) return resolve(get().startTime);
      new PerformanceObserver(() => { if (get()) resolve(get().startTime); }).observe({ type: "paint", buffered: true });
      setTimeout(() => resolve(null), 3000);
    }));
    if (fcp !== null) samples.push(Math.round(fcp * 10) / 10);
    if (i === 0) {
      resources = await page.evaluate(() => [performance.getEntriesByType("navigation")[0],
        ...performance.getEntriesByType("resource")].map((e) => ({ name: e.name.replace(location.origin, ""),
        transfer: e.transferSize, encoded: e.encodedBodySize, decoded: e.decodedBodySize })));
    }
  }
  await context.close();
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    samples_ms: samples,
    cold_ms: samples.length ? samples[0] : null,
    median_ms: sorted.length ? sorted[Math.floor(sorted.length / 2)] : null,
    resources,
  };
}
