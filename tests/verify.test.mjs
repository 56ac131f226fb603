// Proving that Backstop is installed: `cargo xtask verify <site>` (the real command, as a deploy
// pipeline runs it), `Backstop.test()` in a page, the receipt endpoint it polls, and the session
// every page load sends. The site is on its own origin (`http://localhost:<p>`) with the pinned
// script tag pointing at the real worker (`http://127.0.0.1:<q>`), in real Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';

import { ROOT, startWorker, adminGet, eventually, waitStored } from './lib/harness.mjs';
import { sendEvent } from './lib/events.mjs';
import { launchBrowser, watchPage } from './lib/browser.mjs';
import { startSite } from './lib/site.mjs';

const VERSION = '0.1.0'; // the workspace version: the versioned SDK path /sdk/v<version>/
const WRONG_KEY = 'ffffffffffffffffffffffffffffffff';

let worker;
let site;
let browser;
let integrity;

/** The documented, pinned tag; `attrs` adds data attributes, `dsn`/`sri` replace the real ones. */
function tag({ dsn = worker.dsn, sri = integrity, attrs = '' } = {}) {
  return `<script src="${worker.base}/sdk/v${VERSION}/backstop.js" integrity="${sri}" crossorigin="anonymous" data-dsn="${dsn}" ${attrs}></script>`;
}

const html = (head) => ({ body: `<!doctype html><html><head><meta charset="utf-8"><title>shop</title>${head}</head><body><h1>shop</h1></body></html>` });

before(async () => {
  worker = await startWorker();
  browser = await launchBrowser();
  const js = Buffer.from(await (await fetch(`${worker.base}/sdk/v${VERSION}/backstop.js`)).arrayBuffer());
  integrity = `sha384-${createHash('sha384').update(js).digest('base64')}`;
  // A page's release comes from its URL (?release=), so each test counts its own sessions.
  const release = (url) => url.searchParams.get('release') ?? 'shop@1';
  site = await startSite({
    routes: {
      '/': (url) => html(tag({ attrs: `data-release="${release(url)}" data-environment="production"` })),
      '/no-sessions': (url) => html(tag({ attrs: `data-release="${release(url)}" data-sessions="false"` })),
      '/eager': (url) => html(tag({ attrs: `data-release="${release(url)}" data-lazy="false"` })),
      '/none': html('<script>window.shopReady = true;</script>'),
      '/wrong-key': html(tag({ dsn: worker.dsn.replace(worker.publicKey, WRONG_KEY) })),
      '/bad-integrity': html(tag({ sri: 'sha384-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' })),
      // A CSP without 'wasm-unsafe-eval': backstop.js runs, the wasm may not compile.
      '/no-wasm-csp': {
        ...html(tag({ attrs: 'data-release="shop@1"' })),
        headers: { 'content-security-policy': `script-src 'self' ${worker.base}; connect-src 'self' ${worker.base}` },
      },
    },
  });
  assert.notEqual(new URL(site.origin).origin, new URL(worker.base).origin, 'the site and the worker are different origins');
});

after(async () => {
  await browser?.close();
  await site?.close();
  await worker?.stop();
});

/** Runs `cargo xtask verify <url> …` (the real command) and returns its exit code and output. */
function verify(url, ...args) {
  return new Promise((resolve, reject) => {
    const child = spawn('cargo', ['run', '-q', '-p', 'xtask', '--', 'verify', url, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.once('error', reject);
    child.once('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr, all: `exit ${code}\nstdout: ${stdout}\nstderr: ${stderr}` }); });
  });
}

/** This worker's release-health row for `release` (from the read API's stats). */
async function sessionsOf(release) {
  return (await adminGet(worker, '/api/1/stats')).sessions.find((s) => s.release === release);
}

test('cargo xtask verify on a site with the tag: exit 0, "received ✓", the test event stored', { timeout: 300_000 }, async () => {
  const r = await verify(`${site.origin}/`, '--timeout', '20');
  assert.equal(r.code, 0, r.all);
  const m = r.stdout.match(/^received ✓ event ([0-9a-f]{32}) in (\d+) ms$/m);
  assert.ok(m, r.all);
  const stored = await adminGet(worker, `/api/1/events/${m[1]}`);
  assert.equal(stored.event.message, 'Backstop test event');
  assert.equal(stored.event.tags['backstop.test'], 'true');
  assert.equal(stored.event.release, 'shop@1');
});

test('cargo xtask verify fails with a reason: no tag, a wrong project key, the SDK not loading', { timeout: 300_000 }, async () => {
  const none = await verify(`${site.origin}/none`);
  assert.equal(none.code, 3, none.all);
  assert.match(none.stderr, /no Backstop on http:\/\/localhost:\d+\/none: no <script src="\.\.\.\/backstop\.js"> on the page and no window\.Backstop/, none.all);

  const wrong = await verify(`${site.origin}/wrong-key`, '--timeout', '10');
  assert.equal(wrong.code, 5, wrong.all);
  assert.match(wrong.stderr, /not received: Backstop\.test: the collector refused: HTTP 403 invalid_key/, wrong.all);

  const sri = await verify(`${site.origin}/bad-integrity`);
  assert.equal(sri.code, 4, sri.all);
  assert.match(sri.stderr, /SDK failed to load: .*integrity/, sri.all);

  const csp = await verify(`${site.origin}/no-wasm-csp`, '--timeout', '20');
  assert.equal(csp.code, 4, csp.all);
  assert.match(csp.stderr, /SDK failed to load: the test event [0-9a-f]{32} arrived in \d+ ms through the stub's fallback only \(.*wasm-unsafe-eval/, csp.all);

  const usage = await verify('shop.example');
  assert.equal(usage.code, 64, usage.all);
  assert.match(usage.stderr, /must start with http:\/\/ or https:\/\//);
});

test('Backstop.test() in a page resolves { received: true, event_id, round_trip_ms } and logs it', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const log = watchPage(page);
  try {
    await page.goto(`${site.origin}/`, { waitUntil: 'load' });
    const r = await page.evaluate(() => window.Backstop.test());
    assert.equal(r.received, true, log.describe());
    assert.match(r.event_id, /^[0-9a-f]{32}$/);
    assert.ok(Number.isInteger(r.round_trip_ms) && r.round_trip_ms >= 0 && r.round_trip_ms < 10_000, JSON.stringify(r));
    assert.equal(r.via, 'wasm');
    assert.ok(log.console.includes(`log: Backstop: test event received ✓ (${r.round_trip_ms} ms)`), log.describe());
    // The receipt it polled, as any caller with the public key sees it.
    const receipt = await fetch(`${worker.base}/api/1/receipt/${r.event_id}?sentry_key=${worker.publicKey}`, { headers: { Origin: site.origin } });
    assert.equal(receipt.status, 200);
    assert.equal(receipt.headers.get('access-control-allow-origin'), '*');
    const body = await receipt.json();
    assert.equal(body.received, true);
    assert.ok(body.received_at > Date.now() - 60_000 && body.received_at <= Date.now() + 1000, JSON.stringify(body));
  } finally {
    await context.close();
  }
});

test('the receipt endpoint: authenticated as ingest is, one error format', async () => {
  const id = randomUUID();
  const get = async (path, headers = {}) => {
    const r = await fetch(`${worker.base}${path}`, { headers });
    return { status: r.status, cors: r.headers.get('access-control-allow-origin'), body: await r.json() };
  };
  const cases = [
    ['not stored yet', `/api/1/receipt/${id}?sentry_key=${worker.publicKey}`, {}, 404, 'not_found'],
    ['X-Sentry-Auth', `/api/1/receipt/${id}`, { 'X-Sentry-Auth': `Sentry sentry_version=7, sentry_key=${worker.publicKey}` }, 404, 'not_found'],
    ['no key', `/api/1/receipt/${id}`, {}, 401, 'missing_auth'],
    ['wrong key', `/api/1/receipt/${id}?sentry_key=${WRONG_KEY}`, {}, 403, 'invalid_key'],
    ['keys that disagree', `/api/1/receipt/${id}?sentry_key=${worker.publicKey}`, { 'X-Sentry-Auth': `Sentry sentry_key=${WRONG_KEY}` }, 403, 'conflicting_auth'],
    ['not an event id', `/api/1/receipt/not-an-id?sentry_key=${worker.publicKey}`, {}, 400, 'invalid_param'],
    ['unknown project', `/api/2/receipt/${id}?sentry_key=${worker.publicKey}`, {}, 404, 'unknown_project'],
  ];
  for (const [what, path, headers, status, error] of cases) {
    const r = await get(path, headers);
    assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error, error, what);
    assert.equal(typeof r.body.detail, 'string', what);
    assert.equal(r.cors, '*', `${what}: CORS`);
  }
  // Stored: a dashed UUID names the same event.
  const hex = id.replace(/-/g, '');
  const env = `{"event_id":"${hex}"}\n{"type":"event"}\n{"message":"receipt probe"}\n`;
  const sent = await fetch(`${worker.base}/api/1/envelope/?sentry_key=${worker.publicKey}`, { method: 'POST', body: env });
  assert.equal(sent.status, 200);
  // Stored by the queue consumer about a second after the answer: until then it is not found.
  await eventually(async () => (await get(`/api/1/receipt/${hex}?sentry_key=${worker.publicKey}`)).status === 200);
  for (const form of [hex, id]) {
    const r = await get(`/api/1/receipt/${form}?sentry_key=${worker.publicKey}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.received, true);
    assert.equal(typeof r.body.received_at, 'number');
  }
});

/** Loads `path` in a fresh context (optionally blocking the wasm) and closes it. */
async function load(path, { blockWasm = false } = {}) {
  const context = await browser.newContext();
  if (blockWasm) await context.route('**/backstop_bg.wasm', (route) => route.abort('blockedbyclient'));
  const page = await context.newPage();
  const log = watchPage(page);
  try {
    await page.goto(`${site.origin}${path}`, { waitUntil: 'load' });
    await new Promise((r) => setTimeout(r, 500));
    return log;
  } finally {
    await context.close();
  }
}

test('a page load sends exactly one session, counted for its release; none with data-sessions="false"', async () => {
  const release = `shop@${randomUUID().slice(0, 8)}`;
  await load(`/?release=${release}`);
  const row = await eventually(() => sessionsOf(release), 15_000);
  assert.ok(row, `a session for ${release}: ${JSON.stringify((await adminGet(worker, '/api/1/stats')).sessions)}`);
  await new Promise((r) => setTimeout(r, 1500));
  // A marker sent after the page's requests and stored by the queue consumer: a second session
  // from that page would have been processed too.
  assert.ok(await waitStored(worker, [await sendEvent(worker, 'session-marker')]), 'the marker stored');
  const after = await sessionsOf(release);
  assert.equal(after.started, 1, JSON.stringify(after));
  assert.equal(after.environment, 'production');
  assert.equal(after.crashed, 0);
  assert.equal(after.crash_free_rate, 1);

  const off = `shop@${randomUUID().slice(0, 8)}`;
  await load(`/no-sessions?release=${off}`);
  await new Promise((r) => setTimeout(r, 2000));
  assert.ok(await waitStored(worker, [await sendEvent(worker, 'session-marker')]), 'the marker stored');
  assert.equal(await sessionsOf(off), undefined, 'no session with data-sessions="false"');
});

test('the session still arrives when the wasm is blocked', async () => {
  const release = `shop@${randomUUID().slice(0, 8)}`;
  // data-lazy="false": the page asks for the wasm at once, and it is blocked.
  const log = await load(`/eager?release=${release}`, { blockWasm: true });
  const row = await eventually(() => sessionsOf(release), 15_000);
  assert.ok(row, `a session although the wasm was blocked\n${log.describe()}`);
  assert.equal(row.started, 1);
  assert.ok(log.console.some((l) => l.includes('[backstop] SDK could not load')), `the wasm really was blocked\n${log.describe()}`);
});
