// `cargo xtask verify <site URL>`: loads a site in headless Chromium, as a visitor would, and
// proves that Backstop is installed on it: `window.Backstop` appears, and `Backstop.test()` sends
// a test event that the collector confirms it has stored (its receipt endpoint, which takes the
// project's public key from the page's DSN: no admin token). Run by crates/xtask/src/verify.rs:
//   node crates/xtask/verify/verify.mjs <url> <timeout ms>
// Prints one result line and exits with the code of the outcome (see CODES).
import { chromium } from 'playwright-core';

/** Exit codes: what a deploy pipeline can tell apart. */
const CODES = { received: 0, usage: 64, page: 2, noBackstop: 3, sdkFailed: 4, notReceived: 5 };

const [url, timeoutArg] = process.argv.slice(2);
const timeoutMs = Number(timeoutArg) || 10_000;
if (!url) {
  console.error('usage: node verify.mjs <site URL> [timeout ms]');
  process.exit(CODES.usage);
}

/** Ends the run: one line, then the exit code. */
function finish(code, line) {
  (code === CODES.received ? console.log : console.error)(line);
  process.exitCode = code;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  headless: true,
  // Flags for headless Chromium as root without network extras (the tests' browser.mjs has the same).
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  timeout: 30_000,
}).catch((e) => {
  finish(CODES.page, `cannot start Chromium (${process.env.CHROMIUM_PATH || '/usr/bin/chromium'}; set CHROMIUM_PATH): ${e.message}`);
  return null;
});

if (browser) {
  try {
    await verify(browser);
  } finally {
    await browser.close();
  }
}

async function verify(b) {
  const context = await b.newContext();
  const page = await context.newPage();
  // What tells a missing tag from a tag whose script could not load.
  const sdkScripts = [];
  const console_ = [];
  page.on('console', (m) => console_.push(`${m.type()}: ${m.text()}`));
  page.on('response', (r) => {
    if (r.request().resourceType() === 'script' && /backstop\.js([?#]|$)/.test(r.url())) sdkScripts.push(`${r.url()} answered ${r.status()}`);
  });
  page.on('requestfailed', (r) => {
    if (/backstop\.js([?#]|$)/.test(r.url())) sdkScripts.push(`${r.url()} failed: ${r.failure()?.errorText ?? 'unknown error'}`);
  });
  try {
    const answer = await page.goto(url, { waitUntil: 'load', timeout: Math.max(timeoutMs, 15_000) });
    if (answer && !answer.ok()) return finish(CODES.page, `${url} answered HTTP ${answer.status()}`);
  } catch (e) {
    return finish(CODES.page, `cannot load ${url}: ${e.message.split('\n')[0]}`);
  }
  const present = await page.waitForFunction(() => window.Backstop && typeof window.Backstop.test === 'function', null, { timeout: 5_000 })
    .then(() => true, () => false);
  if (!present) {
    const state = await page.evaluate(() => ({
      global: typeof window.Backstop,
      tags: Array.from(document.scripts).map((s) => s.src).filter((s) => /backstop\.js([?#]|$)/.test(s)),
    })).catch(() => ({ global: 'undefined', tags: [] }));
    if (state.global !== 'undefined') return finish(CODES.sdkFailed, `SDK failed to load: window.Backstop has no test(): an older SDK; use the tag \`cargo xtask sdk-tag\` prints`);
    if (state.tags.length === 0) return finish(CODES.noBackstop, `no Backstop on ${url}: no <script src=".../backstop.js"> on the page and no window.Backstop`);
    // The browser's own words for a blocked script (integrity, CSP) say the most.
    const blocked = console_.filter((l) => /integrity|Content Security Policy|Refused to load/i.test(l)).map((l) => l.replace(/^\w+: /, ''));
    return finish(CODES.sdkFailed, `SDK failed to load: ${(blocked.length ? blocked : sdkScripts).join('; ') || `${state.tags[0]} did not run`}`);
  }
  const result = await page.evaluate((t) => window.Backstop.test({ timeoutMs: t })
    .then((r) => ({ ok: true, r }), (e) => ({ ok: false, message: String((e && e.message) || e) })), timeoutMs);
  if (!result.ok) {
    const sdk = console_.filter((l) => l.includes('[backstop]'));
    const more = sdk.length ? `\n  SDK console: ${sdk.join('\n  SDK console: ')}` : '';
    // backstop_bg.js (loaded with the wasm on the first error) did not load: no stub fallback.
    if (/the SDK could not load/.test(result.message)) return finish(CODES.sdkFailed, `SDK failed to load: ${result.message}${more}`);
    return finish(CODES.notReceived, `not received: ${result.message}${more}`);
  }
  const { event_id: id, round_trip_ms: ms, via } = result.r;
  if (via !== 'wasm') {
    // The stub's own sender got it through, but errors would not be reported in full.
    const why = console_.find((l) => l.includes('[backstop] SDK could not load')) ?? 'the wasm did not load';
    return finish(CODES.sdkFailed, `SDK failed to load: the test event ${id} arrived in ${ms} ms through the stub's fallback only (${why})`);
  }
  return finish(CODES.received, `received ✓ event ${id} in ${ms} ms`);
}
