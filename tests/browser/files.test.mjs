// Files through a real browser (issue 4, "Shared facilities"): an account manager uploads a scan to
// a client organisation with the form, sees it listed, and downloads it as an attachment with the
// same bytes; an executable disguised as an image is refused with the message beside the field.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";

import { KefuServer, chromiumPresent, formLogin, launchBrowser, newContext, outputDir } from "./lib/kefu.mjs";

const skip = chromiumPresent() ? false : "chromium is not installed (scripts/install-deps installs it)";
let server, browser, orgId;

// The smallest valid PNG: one transparent pixel.
const PNG = Buffer.from(
  "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489" +
  "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082", "hex");
// The start of an ELF executable, named like a photo.
const ELF = Buffer.concat([Buffer.from("7f454c46020101000000000000000000", "hex"), Buffer.alloc(64)]);

before(async () => {
  if (skip) return;
  server = await KefuServer.start();
  browser = await launchBrowser();
  await server.makeUser("am.wu", ["account_manager"], { displayName: "吴经理" });
  const admin = await server.admin();
  const r = await admin.call("POST", "/api/v1/orgs", { name: "上传测试客户公司" });
  assert.equal(r.status, 201);
  orgId = r.json.id;
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("upload a scan with the form and download it as an attachment", { skip }, async () => {
  const dir = outputDir("files");
  const scan = path.join(dir, "合同扫描件.png");
  fs.writeFileSync(scan, PNG);
  const ctx = await newContext(browser, { acceptDownloads: true });
  const page = await ctx.newPage();
  await formLogin(page, server, "am.wu");
  await page.goto(`${server.url}/orgs/${orgId}`);
  await page.setInputFiles("#file", scan);
  await Promise.all([page.waitForNavigation(), page.click("form[enctype='multipart/form-data'] button[type=submit]")]);
  assert.equal(new URL(page.url()).pathname, `/orgs/${orgId}`);
  const link = page.locator(`a[href^="/files/"]`, { hasText: "合同扫描件.png" });
  assert.equal(await link.count(), 1, "the file is listed under its name");
  const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
  assert.equal(download.suggestedFilename(), "合同扫描件.png");
  const saved = path.join(dir, "downloaded.png");
  await download.saveAs(saved);
  assert.deepEqual(fs.readFileSync(saved), PNG, "the same bytes come back");
  // the server says attachment: a browser never renders an uploaded file inline
  const href = await link.getAttribute("href");
  const r = await page.request.get(server.url + href);
  assert.match(r.headers()["content-disposition"] || "", /^attachment;/);
  assert.equal(r.headers()["x-content-type-options"], "nosniff");
  await page.screenshot({ path: path.join(dir, "org-with-file.png"), fullPage: true });
  await ctx.close();
});

test("an executable named like a photo is refused beside the file field", { skip }, async () => {
  const dir = outputDir("files");
  const fake = path.join(dir, "photo.jpg");
  fs.writeFileSync(fake, ELF);
  const ctx = await newContext(browser);
  const page = await ctx.newPage();
  await formLogin(page, server, "am.wu");
  await page.goto(`${server.url}/orgs/${orgId}`);
  const before = await page.locator(`a[href^="/files/"]`).count();
  await page.setInputFiles("#file", fake);
  const [resp] = await Promise.all([page.waitForNavigation(),
    page.click("form[enctype='multipart/form-data'] button[type=submit]")]);
  assert.equal(resp.status(), 415);
  assert.equal(await page.getAttribute("#file", "aria-invalid"), "true");
  assert.ok((await page.textContent("#file-error")).trim().length > 0, "the reason is shown beside the field");
  await page.goto(`${server.url}/orgs/${orgId}`);
  assert.equal(await page.locator(`a[href^="/files/"]`).count(), before, "nothing was stored");
  await ctx.close();
});
