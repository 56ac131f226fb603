// End to end in a real browser: the demo page (real SDK) → the real worker under `wrangler dev` →
// the read API → the dashboard. Run: node --test tests/browser.test.mjs (Node ≥ 22.12).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';

import { startWorker } from './lib/harness.mjs';
import { launchBrowser, watchPage, waitFor } from './lib/browser.mjs';
import { startSite } from './lib/site.mjs';

const PROJECT = '1';
const DEMO_KEY = 'd0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0'; // hard-coded in web-demo/demo/demo-boot.js
const EARLY = 'early error before the SDK loaded';
const REJECTION = 'demo rejection';
const XSS = '<img src=x onerror=alert(1)>';
const POLL = { timeout: 15_000, interval: 300 };

let worker;
let browser;
/** The demo page's own files served by another origin than the worker's, as a real site is. */
let site;
/** Filled by the demo test, read by the dashboard test. */
const seen = {};

before(async () => {
  worker = await startWorker();
  browser = await launchBrowser();
  site = await startSite({ files: { '/demo/': 'web-demo/demo/', '/style.css': 'web-demo/style.css' } });
});

after(async () => {
  await browser?.close();
  await site?.close();
  await worker?.stop();
});

/** GET on the read API with the admin token; throws with status and body on a non-2xx answer. */
async function api(path) {
  const res = await fetch(`${worker.base}/api/${PROJECT}${path}`, {
    headers: { Authorization: `Bearer ${worker.adminToken}` },
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET /api/${PROJECT}${path} → HTTP ${res.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text);
}

async function listEvents(query) {
  const params = new URLSearchParams({ limit: '200' });
  if (query) params.set('query', query);
  return (await api(`/events?${params}`)).events;
}

function cspViolations(log) {
  return log.console.filter((line) => /Content Security Policy/i.test(line));
}

test('static assets carry the cache and security headers from web-demo/_headers', async () => {
  for (const path of ['/', '/demo/']) {
    const res = await fetch(worker.base + path);
    await res.arrayBuffer();
    assert.equal(res.status, 200, `GET ${path}`);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/, `GET ${path} content-type`);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', `GET ${path} nosniff`);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'(;|$)/, `GET ${path} CSP script-src: ${csp}`);
    assert.match(csp, /connect-src \*(;|$)/, `GET ${path} CSP connect-src: ${csp}`);
    assert.doesNotMatch(csp, /unsafe-inline/, `GET ${path} CSP must not allow inline scripts: ${csp}`);
  }
  const js = await fetch(`${worker.base}/sdk/backstop.js`);
  await js.arrayBuffer();
  assert.equal(js.status, 200, 'GET /sdk/backstop.js (is the SDK built into web-demo/sdk/?)');
  assert.equal(js.headers.get('cache-control'), 'public, max-age=300', 'GET /sdk/backstop.js cache-control');
  const wasm = await fetch(`${worker.base}/sdk/backstop_bg.wasm`);
  await wasm.arrayBuffer();
  assert.equal(wasm.status, 200, 'GET /sdk/backstop_bg.wasm');
  assert.equal(wasm.headers.get('content-type'), 'application/wasm', 'GET /sdk/backstop_bg.wasm content-type');
  assert.equal(wasm.headers.get('cache-control'), 'public, max-age=300', 'GET /sdk/backstop_bg.wasm cache-control');
});

test('the demo page reports every kind of error through the SDK', { timeout: 90_000 }, async () => {
  assert.equal(worker.publicKey, DEMO_KEY, 'the harness must provision the demo page\'s dev key for project 1');
  const context = await browser.newContext();
  const page = await context.newPage();
  const log = watchPage(page);
  try {
    // The page is on the site's origin; the SDK, ingest and /demo/api/fail on the worker's.
    await page.goto(`${site.origin}/demo/?collector=${encodeURIComponent(worker.base)}`, { waitUntil: 'load' });
    assert.notEqual(new URL(site.origin).origin, new URL(worker.base).origin);
    await page.evaluate(async () => {
      await window.Backstop.ready;
    });
    // The page really threw the early error (and nothing else) before anyone clicked.
    assert.deepEqual(log.pageErrors, [EARLY], `page errors at load\n${log.describe()}`);
    assert.equal(await page.textContent('#sdk-status'), 'ready');

    await page.click('#throw');
    await page.click('#reject');
    await page.click('#fetch500');
    await page.click('#fetchDown');
    await page.evaluate((msg) => window.Backstop.captureMessage(msg, 'warning'), XSS);
    await page.click('#oversize');

    // #oversize: the page shows the worker's answer, a JSON 413 that names the limit.
    await page.waitForSelector('#oversize-result[data-status]', { timeout: 30_000 });
    assert.equal(await page.getAttribute('#oversize-result', 'data-status'), '413', await page.textContent('#oversize-result'));
    const oversizeBody = JSON.parse(await page.textContent('#oversize-body'));
    assert.equal(typeof oversizeBody.error, 'string', `413 body has an error: ${JSON.stringify(oversizeBody)}`);
    assert.match(JSON.stringify(oversizeBody), /\d{4,}|\d+(\.\d+)?\s*(KiB|MiB|KB|MB|bytes)/i, '413 body names the limit');

    // The read API has one event per action.
    const found = await waitFor(
      async () => {
        const events = await listEvents();
        const f = {
          // (the unreachable fetch is a TypeError too: "Failed to fetch")
          typeError: events.find((e) => e.type === 'TypeError' && /\bnull\b/.test(e.message)),
          rejection: events.find((e) => String(e.message).includes(REJECTION)),
          early: events.find((e) => String(e.message).includes(EARLY)),
          xss: events.find((e) => String(e.message).includes(XSS)),
          fetch500: (await listEvents('/demo/api/fail'))[0],
          fetchDown: (await listEvents('unreachable'))[0],
        };
        const missing = Object.keys(f).filter((k) => !f[k]);
        if (missing.length) throw new Error(`not found yet: ${missing.join(', ')}`);
        return f;
      },
      { ...POLL, what: 'the demo page\'s six events in GET /events' },
    ).catch(async (err) => {
      const events = await listEvents().catch((e) => String(e));
      const workerLog = worker.logs?.().slice(-4000) ?? '';
      throw new Error(`${err.message}\nevents: ${JSON.stringify(events, null, 1)}\n${log.describe()}\nworker log:\n${workerLog}`);
    });

    for (const [name, e] of Object.entries(found)) {
      assert.match(e.event_id, /^[0-9a-f]{32}$/, `${name}: event_id`);
      assert.equal(e.release, 'demo@1', `${name}: release from data-release`);
      assert.equal(e.environment, 'demo', `${name}: environment from data-environment`);
      assert.ok(e.received_at > Date.now() - 120_000 && e.received_at <= Date.now() + 5_000, `${name}: received_at is epoch ms`);
    }

    // How each one was captured (the worker's `kind` is the exception mechanism, else "message").
    const kinds = Object.fromEntries(Object.entries(found).map(([name, e]) => [name, e.kind]));
    assert.deepEqual(kinds, {
      typeError: 'onerror',
      rejection: 'onunhandledrejection',
      early: 'onerror',
      xss: 'message',
      fetch500: 'fetch',
      fetchDown: 'fetch',
    });

    // The TypeError from the nested named functions comes with a parsed stack, oldest frame first.
    const detail = await api(`/events/${found.typeError.event_id}`);
    assert.equal(detail.event.event_id, found.typeError.event_id);
    assert.equal(detail.event.level, 'error');
    const frames = detail.event.frames;
    assert.ok(Array.isArray(frames) && frames.length >= 3, `TypeError frames: ${JSON.stringify(frames)}`);
    for (const f of frames.filter((fr) => /\/demo\/demo\.js$/.test(fr.filename ?? ''))) {
      assert.ok(Number.isInteger(f.lineno) && f.lineno > 0, `frame lineno: ${JSON.stringify(f)}`);
      assert.ok(Number.isInteger(f.colno) && f.colno > 0, `frame colno: ${JSON.stringify(f)}`);
    }
    const at = (fn) => frames.findIndex((f) => String(f.function).includes(fn) && /\/demo\/demo\.js$/.test(f.filename ?? ''));
    assert.ok(at('readDisplayName') >= 0, `a demo.js frame for readDisplayName: ${JSON.stringify(frames)}`);
    assert.ok(at('loadUserProfile') >= 0, `a demo.js frame for loadUserProfile: ${JSON.stringify(frames)}`);
    assert.ok(at('loadUserProfile') < at('readDisplayName'), 'frames are oldest first (caller before callee)');
    assert.equal(frames[at('readDisplayName')].in_app, true, 'the page\'s own frame is in_app');
    assert.equal(detail.payload?.exception?.values?.at(-1)?.type, 'TypeError', 'raw payload is the event as sent');
    seen.typeErrorFrames = frames;

    // The unhandled rejection and the early (buffered) error keep their messages.
    assert.equal(found.rejection.type, 'Error', `rejection: ${JSON.stringify(found.rejection)}`);
    assert.equal(found.early.type, 'Error', `early error: ${JSON.stringify(found.early)}`);

    // Fetch failures: the 500 names the URL and status; the unreachable one is a network error.
    const f500 = await api(`/events/${found.fetch500.event_id}`);
    const f500Raw = JSON.stringify(f500.payload);
    assert.ok(f500Raw.includes('/demo/api/fail') && /\b500\b/.test(f500Raw), `fetch 500 payload: ${f500Raw}`);
    const down = await api(`/events/${found.fetchDown.event_id}`);
    const downRaw = JSON.stringify(down.payload);
    assert.ok(downRaw.includes('http://127.0.0.1:9/unreachable'), `network error payload: ${downRaw}`);
    assert.notEqual(found.fetchDown.event_id, found.fetch500.event_id);
    // Only the exception: breadcrumbs legitimately mention the earlier 500.
    assert.doesNotMatch(JSON.stringify(down.payload.exception), /\b500\b/, 'the network error is not reported as an HTTP 500');

    // The XSS probe was stored verbatim, as data.
    assert.equal(found.xss.message, XSS);
    assert.equal(found.xss.level, 'warning');

    // The oversized envelope was counted as a drop, the others as accepted.
    const stats = await waitFor(
      async () => {
        const s = await api('/stats');
        return s.totals?.too_large >= 1 && s.totals?.accepted >= 6 ? s : false;
      },
      { ...POLL, what: 'stats totals too_large >= 1 and accepted >= 6' },
    );
    assert.equal(stats.project, PROJECT);
    assert.ok(
      stats.minutes.some((m) => m.reason === 'too_large' && m.count >= 1 && Number.isInteger(m.minute) && m.minute % 60_000 === 0),
      `per-minute too_large row: ${JSON.stringify(stats.minutes)}`,
    );

    // The log panel shows what the SDK reported as sent, including the early error.
    const sentIds = await page.evaluate(() => window.backstopDemo.sent.map((s) => s.detail.event_id));
    for (const name of ['typeError', 'rejection', 'early', 'xss', 'fetch500', 'fetchDown']) {
      assert.ok(sentIds.includes(found[name].event_id), `backstop:sent announced ${name} (${found[name].event_id}); got ${JSON.stringify(sentIds)}`);
    }
    const logText = await page.textContent('#log');
    assert.ok(logText.includes(EARLY) && logText.includes(REJECTION) && logText.includes(XSS), `log panel: ${logText}`);
    assert.equal(await page.locator('#log img').count(), 0, 'the log renders event text as text');

    assert.deepEqual(cspViolations(log), [], 'no Content Security Policy violations on the demo page');
    assert.deepEqual(log.dialogs, []);
    Object.assign(seen, found);
  } finally {
    await context.close();
  }
});

test('the dashboard shows issues, events, stats and event details, and renders event data as text', { timeout: 90_000 }, async () => {
  assert.ok(seen.typeError && seen.xss, 'needs the events of the demo test');
  const context = await browser.newContext();
  const page = await context.newPage();
  const log = watchPage(page);
  try {
    await page.goto(`${worker.base}/#token=${encodeURIComponent(worker.adminToken)}`, { waitUntil: 'load' });

    // The token left the address bar and went to local storage.
    await waitFor(async () => new URL(page.url()).hash === '', { what: 'token stripped from the URL' });
    assert.equal(await page.evaluate(() => localStorage.getItem('backstop.adminToken')), worker.adminToken);

    // Issues: every issue of the API is a row, with the demo's errors among them.
    const issues = (await api('/issues')).issues;
    const titles = issues.map((i) => i.title);
    for (const want of ['TypeError', REJECTION, EARLY, XSS]) {
      assert.ok(titles.some((t) => t.includes(want)), `an issue title contains ${JSON.stringify(want)}: ${JSON.stringify(titles)}`);
    }
    const shown = await waitFor(
      async () => {
        const cells = await page.locator('#issues tbody tr .issue-title').allTextContents();
        return titles.every((t) => cells.includes(t)) ? cells : false;
      },
      { ...POLL, what: 'the issues table to list every issue title' },
    ).catch((err) => { throw new Error(`${err.message}\n${log.describe()}`); });
    assert.equal(shown.length, titles.length, 'one row per issue');
    const typeErrorRow = page.locator(`#issues tbody tr[data-fingerprint=${JSON.stringify(seen.typeError.fingerprint)}]`);
    assert.match(await typeErrorRow.locator('.issue-title').textContent(), /^TypeError\b|\bTypeError:/);
    assert.match(await typeErrorRow.locator('.issue-count').textContent(), /^[1-9]/);
    assert.match(await typeErrorRow.locator('.issue-last-seen').textContent(), /ago|just now/);

    // Stats: the oversized envelope shows as a highlighted too_large counter.
    const tooLarge = page.locator('#stats [data-reason="too_large"]');
    await waitFor(async () => /nonzero/.test((await tooLarge.getAttribute('class')) ?? ''), { what: 'too_large counter highlighted' });
    assert.ok(Number((await tooLarge.locator('.counter-value').textContent()).replace(/\D/g, '')) >= 1);
    assert.match((await page.locator('#stats [data-reason="accepted"]').getAttribute('class')) ?? '', /nonzero/);

    // The XSS probe is text in the events table, the issues table and the detail panel.
    const xssRow = page.locator('#events tbody tr', { has: page.locator('.event-message', { hasText: XSS }) }).first();
    await xssRow.waitFor({ timeout: POLL.timeout });
    assert.equal(await xssRow.locator('.event-message').textContent(), XSS);
    await xssRow.click();
    await page.waitForSelector('#event-detail:not([hidden]) #detail-body:not([hidden])');
    await waitFor(async () => (await page.getAttribute('#event-detail', 'data-event-id')) === seen.xss.event_id, { what: 'XSS event detail' });
    assert.ok((await page.textContent('#detail-headline')).includes(XSS));
    assert.ok((await page.textContent('#detail-payload')).includes(XSS), 'raw payload shown as text');
    assert.equal(await page.locator('img').count(), 0, 'no <img> element was created from event data');
    assert.deepEqual(log.dialogs, [], 'no alert() ran');

    // The TypeError's stack, newest call first, in_app frames highlighted.
    await page.locator(`#events tbody tr[data-event-id="${seen.typeError.event_id}"]`).click();
    await waitFor(async () => (await page.getAttribute('#event-detail', 'data-event-id')) === seen.typeError.event_id, { what: 'TypeError detail' });
    const frameTexts = await page.locator('#detail-frames li').allTextContents();
    assert.equal(frameTexts.length, seen.typeErrorFrames.length, 'one list item per frame');
    assert.ok(frameTexts[0].includes('readDisplayName'), `newest frame first: ${JSON.stringify(frameTexts)}`);
    const first = page.locator('#detail-frames li').first();
    assert.match((await first.getAttribute('class')) ?? '', /in-app/);
    assert.match(await first.textContent(), /\/demo\/demo\.js:\d+:\d+/);
    assert.match(await page.textContent('#detail-summary'), new RegExp(seen.typeError.event_id));

    // Search narrows the events table through ?query=.
    await page.fill('#search', REJECTION);
    await waitFor(
      async () => {
        const rows = await page.locator('#events tbody tr').allTextContents();
        return rows.length >= 1 && rows.every((r) => r.includes(REJECTION));
      },
      { ...POLL, what: 'search to show only the rejection' },
    );
    await page.fill('#search', '');

    // Auto-refresh picks up a new event without any click.
    const probe = `dashboard auto-refresh probe ${randomUUID()}`;
    const payload = JSON.stringify({ event_id: randomUUID().replace(/-/g, ''), message: probe, level: 'info', platform: 'javascript', timestamp: Date.now() / 1000 });
    const ingest = await fetch(`${worker.base}/api/${PROJECT}/envelope/?sentry_key=${worker.publicKey}&sentry_version=7`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain;charset=UTF-8' },
      body: `{}\n${JSON.stringify({ type: 'event', length: Buffer.byteLength(payload) })}\n${payload}\n`,
    });
    assert.equal(ingest.status, 200, `ingest of the probe: ${await ingest.text()}`);
    await page.locator('#events tbody tr .event-message', { hasText: probe }).waitFor({ timeout: POLL.timeout });

    assert.equal(await page.locator('img').count(), 0);
    assert.deepEqual(log.pageErrors, [], `dashboard page errors\n${log.describe()}`);
    assert.deepEqual(cspViolations(log), [], 'no Content Security Policy violations on the dashboard');
  } finally {
    await context.close();
  }
});

test('the dashboard explains a rejected admin token', { timeout: 60_000 }, async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await page.goto(`${worker.base}/#token=not-the-admin-token`, { waitUntil: 'load' });
    await page.waitForSelector('#notice[data-status]:not([hidden])', { timeout: POLL.timeout });
    const status = await page.getAttribute('#notice', 'data-status');
    assert.ok(status === '401' || status === '403', `notice status ${status}: ${await page.textContent('#notice')}`);
    assert.match(await page.textContent('#notice'), /^40[13] /);
    assert.equal(await page.isVisible('#token-form'), true, 'the token form is offered');
    assert.equal(await page.locator('#issues tbody tr').count(), 0);
  } finally {
    await context.close();
  }
});
