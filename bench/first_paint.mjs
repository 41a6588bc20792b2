// bench/first_paint.mjs URL COOKIE [N]: the first contentful paint of URL in Debian's chromium
// (headless, through tests/browser's playwright-core), N loads; prints "key value" lines for bench/run.
import { firstPaint, launchBrowser } from "../tests/browser/lib/kefu.mjs";

const [url, cookie, n = "8"] = process.argv.slice(2);
const browser = await launchBrowser();
try {
  const fp = await firstPaint(browser, url, cookie, Number(n));
  console.log(`fcp_chromium ${browser.version()}`);
  console.log(`fcp_cold_ms ${fp.cold_ms}`);
  console.log(`fcp_median_ms ${fp.median_ms}`);
  console.log(`fcp_loads ${fp.samples_ms.length}`);
  const bytes = fp.resources.reduce((s, r) => s + r.transfer, 0);
  console.log(`fcp_cold_transfer_bytes ${bytes}`);
} finally {
  await browser.close();
}
