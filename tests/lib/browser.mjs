// Headless Chromium for the end-to-end tests: the machine's /usr/bin/chromium driven by
// playwright-core (`npx playwright install` cannot work offline), with the flags that work as root
// without network (TOOLCHAIN.md, pitfall 13).
import { chromium } from 'playwright-core';

/** Chromium binary; override with CHROMIUM_PATH. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/**
 * Flags for headless Chromium on this machine. Playwright adds `--headless` itself and gives every
 * launch a fresh temporary profile (`--user-data-dir`), which it deletes on close.
 */
export const CHROMIUM_ARGS = Object.freeze([
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
]);

/** Launches headless Chromium. Close it with `await browser.close()`. */
export async function launchBrowser(options = {}) {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS],
    timeout: 30_000,
    ...options,
  });
}

/**
 * Records what a page does that a test may want to assert on or print when it fails: uncaught
 * page errors, console messages, dialogs (dismissed at once) and failed requests.
 */
export function watchPage(page) {
  const log = { pageErrors: [], console: [], dialogs: [], failedRequests: [] };
  page.on('pageerror', (err) => log.pageErrors.push(String(err && err.message ? err.message : err)));
  page.on('console', (msg) => log.console.push(`${msg.type()}: ${msg.text()}`));
  page.on('dialog', (dialog) => {
    log.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    dialog.dismiss().catch(() => {});
  });
  page.on('requestfailed', (req) =>
    log.failedRequests.push(`${req.method()} ${req.url()}: ${req.failure()?.errorText ?? 'failed'}`),
  );
  log.describe = () =>
    [
      `page errors: ${JSON.stringify(log.pageErrors)}`,
      `console: ${JSON.stringify(log.console.slice(-30))}`,
      `dialogs: ${JSON.stringify(log.dialogs)}`,
      `failed requests: ${JSON.stringify(log.failedRequests)}`,
    ].join('\n');
  return log;
}

/**
 * Calls `probe` until it returns a truthy value and returns that value. On timeout, throws an
 * error naming `what` and the last value or error `probe` produced.
 */
export async function waitFor(probe, { timeout = 15_000, interval = 250, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? last.stack || last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeout} ms waiting for ${what}; last: ${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}
