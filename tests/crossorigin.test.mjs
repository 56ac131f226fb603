// The SDK on a real site: a page on its own origin (`http://localhost:<p>`) adds the documented,
// pinned script tag pointing at the worker (`http://127.0.0.1:<q>`), in real Chromium against the
// real worker. Plain, under a strict Content-Security-Policy, under Cross-Origin-Embedder-Policy,
// and with the wasm blocked or tampered with (the failure itself must be reported).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';

import { startWorker, adminGet, eventually } from './lib/harness.mjs';
import { launchBrowser, watchPage } from './lib/browser.mjs';
import { startSite } from './lib/site.mjs';

const VERSION = '0.1.0'; // the workspace version: the versioned SDK path /sdk/v<version>/

let worker;
let site;
let browser;
/** The script tag a site adds, as `cargo xtask sdk-tag` prints it (checked against the served bytes). */
let tag;

// The page's own code: an uncaught error, an unhandled rejection and a failed fetch (503 from
// the site's own API), each tagged with the run id from the page URL.
const APP_JS = `
  window.__sent = [];
  addEventListener('backstop:sent', function (e) { window.__sent.push(e.detail); });
  var run = new URLSearchParams(location.search).get('run');
  window.shop = {
    throwIt: function (what) { setTimeout(function checkout() { throw new TypeError('checkout failed ' + what + ' ' + run); }, 0); },
    reject: function () { Promise.reject(new Error('payment rejected ' + run)); },
    failFetch: function () { return fetch('/api/cart?run=' + run).then(function (r) { return r.status; }); },
  };`;

function page(extraHead = '') {
  return `<!doctype html><html><head><meta charset="utf-8"><title>shop</title>${extraHead}
${tag}
<script src="/app.js"></script>
</head><body><h1>shop</h1></body></html>`;
}

/** Strict CSP that a site adds for Backstop: only the worker's origin, plus 'wasm-unsafe-eval'. */
function strictCsp() {
  return `default-src 'self'; script-src 'self' ${worker.base} 'wasm-unsafe-eval'; connect-src 'self' ${worker.base}; object-src 'none'; base-uri 'none'`;
}

before(async () => {
  worker = await startWorker();
  browser = await launchBrowser();
  const js = Buffer.from(await (await fetch(`${worker.base}/sdk/v${VERSION}/backstop.js`)).arrayBuffer());
  const manifest = await (await fetch(`${worker.base}/sdk/integrity.json`)).json();
  const integrity = `sha384-${createHash('sha384').update(js).digest('base64')}`;
  assert.equal(manifest.js_integrity, integrity, 'integrity.json names the served file\'s hash');
  tag = `<script src="${worker.base}/sdk/v${VERSION}/backstop.js" integrity="${integrity}" crossorigin="anonymous" data-dsn="${worker.dsn}" data-release="shop@2" data-environment="production"></script>`;
  // The optional inline snippet, pasted first in <head>, allowed by its hash from integrity.json.
  const snippet = (await (await fetch(`${worker.base}/sdk/snippet.html`)).text()).trim();
  const snippetCsp = `${strictCsp().replace("'wasm-unsafe-eval'", `'wasm-unsafe-eval' ${manifest.snippet_csp_hash}`)}`;
  site = await startSite({
    routes: {
      '/': { body: page() },
      '/csp': { body: page(), headers: { 'content-security-policy': strictCsp() } },
      '/coep': {
        body: page(),
        headers: { 'cross-origin-embedder-policy': 'require-corp', 'cross-origin-opener-policy': 'same-origin' },
      },
      '/app.js': { body: APP_JS, type: 'text/javascript' },
      // Errors before backstop.js has even been requested: kept by the snippet.
      '/snippet': {
        body: `<!doctype html><html><head><meta charset="utf-8">${snippet}<script src="/early.js"></script>${tag}<script src="/app.js"></script></head><body></body></html>`,
        headers: { 'content-security-policy': snippetCsp },
      },
      '/early.js': {
        type: 'text/javascript',
        body: `var early = new URLSearchParams(location.search).get('run');
          Promise.reject(new Error('rejected before backstop.js ' + early));
          throw new TypeError('thrown before backstop.js ' + early);`,
      },
      '/api/cart': { status: 503, body: '{"error":"cart down"}', type: 'application/json' },
    },
  });
  assert.notEqual(new URL(site.origin).origin, new URL(worker.base).origin, 'the site and the worker are different origins');
});

after(async () => {
  await browser?.close();
  await site?.close();
  await worker?.stop();
});

async function events(query) {
  return (await adminGet(worker, `/api/1/events?limit=200&query=${encodeURIComponent(query)}`)).events;
}

/** Opens `path?run=<id>` on the site, makes the page fail three ways, and returns what arrived. */
async function threeFailures(path, { context: given } = {}) {
  const run = randomUUID().slice(0, 8);
  const context = given ?? (await browser.newContext());
  const p = await context.newPage();
  const log = watchPage(p);
  try {
    await p.goto(`${site.origin}${path}?run=${run}`, { waitUntil: 'load' });
    await p.evaluate(() => { window.shop.throwIt('x'); window.shop.reject(); });
    assert.equal(await p.evaluate(() => window.shop.failFetch()), 503);
    const got = await eventually(async () => {
      const list = await events(run);
      const f = {
        error: list.find((e) => e.type === 'TypeError' && e.message.includes(`checkout failed x ${run}`)),
        rejection: list.find((e) => e.message.includes(`payment rejected ${run}`)),
        fetch: list.find((e) => e.kind === 'fetch'),
      };
      return f.error && f.rejection && f.fetch ? f : null;
    }, 20_000);
    assert.ok(got, `the error, the rejection and the failed fetch arrive from ${path}\nevents: ${JSON.stringify(await events(run))}\n${log.describe()}`);
    for (const e of Object.values(got)) {
      assert.equal(e.release, 'shop@2');
      assert.equal(e.environment, 'production');
    }
    return { page: p, log, run, got, context };
  } finally {
    if (!given) await context.close();
  }
}

test('the SDK files are served for other origins: CORS, CORP, wasm type, versioned and immutable', async () => {
  for (const path of [`/sdk/v${VERSION}/backstop.js`, `/sdk/v${VERSION}/backstop_bg.wasm`, '/sdk/backstop.js', '/sdk/backstop_bg.wasm', '/sdk/integrity.json']) {
    const r = await fetch(worker.base + path, { headers: { Origin: 'https://shop.example' } });
    await r.arrayBuffer();
    assert.equal(r.status, 200, path);
    assert.equal(r.headers.get('access-control-allow-origin'), '*', `${path} ACAO`);
    assert.equal(r.headers.get('cross-origin-resource-policy'), 'cross-origin', `${path} CORP`);
    const versioned = path.includes(`/v${VERSION}/`);
    assert.equal(
      r.headers.get('cache-control'),
      versioned ? 'public, max-age=31536000, immutable' : 'public, max-age=300',
      `${path} cache-control`,
    );
    if (path.endsWith('.wasm')) assert.equal(r.headers.get('content-type'), 'application/wasm', `${path} content-type`);
  }
  // The stub fetches the wasm with its integrity hash: the one baked into the JS is the served wasm's.
  const wasm = Buffer.from(await (await fetch(`${worker.base}/sdk/v${VERSION}/backstop_bg.wasm`)).arrayBuffer());
  const js = await (await fetch(`${worker.base}/sdk/v${VERSION}/backstop.js`)).text();
  const wasmSri = `sha384-${createHash('sha384').update(wasm).digest('base64')}`;
  assert.ok(js.includes(wasmSri), 'backstop.js carries the wasm\'s integrity hash');
});

test('a page on another origin with only the script tag reports an error, a rejection and a failed fetch', async () => {
  const { got } = await threeFailures('/');
  const detail = await adminGet(worker, `/api/1/events/${got.error.event_id}`);
  assert.match(JSON.stringify(detail.payload.request ?? {}), /localhost/, 'the event names the site\'s page');
  assert.ok(detail.event.frames.some((f) => String(f.filename).startsWith(site.origin)), `frames from the site's app.js: ${JSON.stringify(detail.event.frames)}`);
});

test('under a strict CSP that allows only the worker\'s origin (and wasm-unsafe-eval)', async () => {
  const { log } = await threeFailures('/csp');
  assert.deepEqual(log.console.filter((l) => /Content Security Policy|Refused/i.test(l)), [], 'no CSP violation');
});

test('under Cross-Origin-Embedder-Policy: require-corp', async () => {
  const context = await browser.newContext();
  try {
    const { page: p } = await threeFailures('/coep', { context });
    assert.equal(await p.evaluate(() => window.crossOriginIsolated), true, 'the page really is cross-origin isolated');
  } finally {
    await context.close();
  }
});

test('a blocked wasm is reported as "SDK failed to load" with what was captured, and retried on a later error', { timeout: 90_000 }, async () => {
  const run = randomUUID().slice(0, 8);
  const context = await browser.newContext();
  let blocked = true;
  await context.route('**/backstop_bg.wasm', (route) => (blocked ? route.abort('blockedbyclient') : route.continue()));
  const p = await context.newPage();
  const log = watchPage(p);
  try {
    await p.goto(`${site.origin}/?run=${run}`, { waitUntil: 'load' });
    await p.evaluate(() => window.shop.throwIt('while blocked'));
    const detail = await eventually(async () => {
      for (const e of await events('SDK failed to load')) {
        const d = await adminGet(worker, `/api/1/events/${e.event_id}`);
        if (JSON.stringify(d.payload.extra ?? {}).includes(`checkout failed while blocked ${run}`)) return d;
      }
      return null;
    }, 20_000);
    assert.ok(detail, `the report lists the error captured while the wasm was missing\n${log.describe()}`);
    assert.match(detail.event.message, /^SDK failed to load: fetch failed/);
    assert.match(detail.payload.request.url, new RegExp(`^${site.origin}/\\?run=${run}$`), 'names the page');
    assert.equal(detail.payload.release, 'shop@2');
    assert.match(detail.payload.extra.wasm_url, /\/sdk\/v0\.1\.0\/backstop_bg\.wasm$/);

    // "SDK failed to load" is an issue of its own on the dashboard's issue list.
    const issues = (await adminGet(worker, '/api/1/issues')).issues;
    const issue = issues.find((i) => /^SDK failed to load/.test(i.title));
    assert.ok(issue, `an "SDK failed to load" issue: ${JSON.stringify(issues.map((i) => i.title))}`);
    assert.ok(!issues.some((i) => i !== issue && /^SDK failed to load/.test(i.title)), 'one issue for all load failures');

    // Unblocked: the next error after the backoff loads the wasm, and both errors arrive in full.
    blocked = false;
    await new Promise((r) => setTimeout(r, 5_500));
    await p.evaluate(() => window.shop.throwIt('after recovery'));
    const full = await eventually(async () => {
      const list = (await events(run)).filter((e) => e.type === 'TypeError');
      return list.length >= 2 ? list : null;
    }, 20_000);
    assert.ok(full, `both errors arrive once the wasm loads: ${JSON.stringify(await events(run))}\n${log.describe()}`);
    assert.deepEqual(full.map((e) => e.message.replace(` ${run}`, '')).sort(), ['checkout failed after recovery', 'checkout failed while blocked']);
    assert.equal(await p.evaluate(() => window.Backstop.load().then(() => 'running')), 'running');
  } finally {
    await context.close();
  }
});

test('a wasm that does not match its integrity hash is refused and reported', async () => {
  const context = await browser.newContext();
  await context.route('**/backstop_bg.wasm', async (route) => {
    const real = await route.fetch();
    const body = Buffer.from(await real.body());
    body[body.length - 1] ^= 0xff;
    await route.fulfill({ response: real, body });
  });
  const run = randomUUID().slice(0, 8);
  const p = await context.newPage();
  const log = watchPage(p);
  try {
    await p.goto(`${site.origin}/?run=${run}`, { waitUntil: 'load' });
    await p.evaluate(() => window.shop.reject());
    const detail = await eventually(async () => {
      for (const e of await events('SDK failed to load')) {
        const d = await adminGet(worker, `/api/1/events/${e.event_id}`);
        if (JSON.stringify(d.payload.extra ?? {}).includes(`payment rejected ${run}`)) return d;
      }
      return null;
    }, 20_000);
    assert.ok(detail, `the integrity failure is reported\n${log.describe()}`);
    assert.match(detail.event.message, /integrity/);
    assert.equal((await events(run)).filter((e) => e.kind === 'onunhandledrejection').length, 0, 'the tampered wasm never ran');
  } finally {
    await context.close();
  }
});

test('the inline snippet (allowed by its CSP hash) keeps what failed before backstop.js; it arrives at the worker', async () => {
  const run = randomUUID().slice(0, 8);
  const context = await browser.newContext();
  const p = await context.newPage();
  const log = watchPage(p);
  try {
    await p.goto(`${site.origin}/snippet?run=${run}`, { waitUntil: 'load' });
    const got = await eventually(async () => {
      const list = await events(run);
      const error = list.find((e) => e.type === 'TypeError' && e.message.includes(`thrown before backstop.js ${run}`));
      const rejection = list.find((e) => e.message.includes(`rejected before backstop.js ${run}`));
      return error && rejection ? { error, rejection } : null;
    }, 20_000);
    assert.ok(got, `both early failures arrive\nevents: ${JSON.stringify(await events(run))}\n${log.describe()}`);
    assert.equal(got.error.release, 'shop@2');
    assert.deepEqual(log.console.filter((l) => /Content Security Policy|Refused/i.test(l)), [], 'no CSP violation: the hash allows the snippet');
    assert.equal(await p.evaluate(() => '__backstop' in window), false, 'backstop.js took over from the snippet');
  } finally {
    await context.close();
  }
});
