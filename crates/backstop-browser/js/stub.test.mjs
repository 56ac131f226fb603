// The built SDK (web-demo/sdk/backstop.js + backstop_bg.wasm) as a page loads it: the JS stub's
// buffering, queueing, data attributes, global-scope hygiene, failure modes, and what actually
// reaches a collector. Build the SDK first, then (Node >= 22):
//   node --test crates/backstop-browser/js/stub.test.mjs
// SDK_DIR overrides the directory holding the built files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const SDK_DIR = process.env.SDK_DIR || path.resolve(here, '../../../web-demo/sdk');
const KEY = 'smokekey';

let server;
let base;
let browser;
/** Envelopes the fake collector received: {query, contentType, body}. */
let received = [];
/** Session envelopes, kept apart from `received` (the stub sends one per page load). */
let sessions = [];
/** Project 7's collector is unreachable (connections reset) while this is true. */
let down = false;
/** Requests to the receipt endpoint since the last open(). */
let receipts = [];
/** Requests for the SDK's wasm since the last open(). */
let wasmLoads = 0;
/** Project 5's collector answers after 30 ms; requests in flight now and at most. */
const slow = { now: 0, max: 0 };

/** The ready-to-paste snippet (web-demo/sdk/snippet.html), read in before(). */
let snippetTag = '';
/** Pages served with a Content-Security-Policy of their own. */
const pageCsp = {
  nonce: (host) => `script-src 'nonce-n0nce' 'wasm-unsafe-eval'; connect-src http://${host}`,
};
/** Requests for backstop_bg.js since the last open(). */
let bgLoads = 0;

const pages = {
  // Data attributes; errors, a rejection, a failed image and API calls before the wasm is ready.
  data: (host) => `<!doctype html><html><head>
    <script>window.__before = Object.getOwnPropertyNames(window);</script>
    <script src="http://${host}/sdk/backstop.js" crossorigin="anonymous" data-dsn="http://${KEY}@${host}/1" data-release="smoke@1" data-environment="smoke"></script>
    <script>
      window.__sent = [];
      addEventListener('backstop:sent', function (e) { window.__sent.push(e.detail); });
      window.__queuedId = Backstop.captureMessage('queued before ready', 'warning');
      Promise.reject('early rejection');
    </script>
    <script>throw new Error('early error');</script>
    </head><body><img src="/missing.png"></body></html>`,
  // No data-dsn: Backstop.init before the wasm is ready.
  init: (host) => `<!doctype html><html><head>
    <script src="http://${host}/sdk/backstop.js" crossorigin="anonymous"></script>
    <script>
      window.__sent = [];
      addEventListener('backstop:sent', function (e) { window.__sent.push(e.detail); });
      Backstop.init({ dsn: 'http://${KEY}@${host}/1', maxEvents: 2 });
      Backstop.captureException(new TypeError('queued exception'));
    </script></head><body></body></html>`,
  // The wasm is missing.
  broken: (host) => `<!doctype html><html><head>
    <script src="http://${host}/broken/backstop.js" data-dsn="http://${KEY}@${host}/1"></script>
    <script>window.__result = Backstop.captureMessage('into the void');</script>
    </head><body></body></html>`,
  // Callbacks from a cross-origin script (the page is on localhost, the script on 127.0.0.1)
  // throwing in timers/listeners.
  wrap: (host, port) => `<!doctype html><html><head>
    <script src="http://${host}/sdk/backstop.js" crossorigin="anonymous" data-dsn="http://${KEY}@${host}/1"></script>
    <script>window.__pageErrors = []; window.onerror = function (m) { window.__pageErrors.push(String(m)); };</script>
    <script src="http://${host}/xorigin.js"></script>
    </head><body><button id="b">b</button></body></html>`,
  nowrap: (host, port) => `<!doctype html><html><head>
    <script src="http://${host}/sdk/backstop.js" crossorigin="anonymous" data-dsn="http://${KEY}@${host}/1" data-wrap-callbacks="false"></script>
    <script src="http://${host}/xorigin.js"></script>
    </head><body></body></html>`,
  // Just the SDK; each test drives the page.
  plain: (host) => `<!doctype html><html><head>
    <script src="http://${host}/sdk/backstop.js" crossorigin="anonymous" data-dsn="http://${KEY}@${host}/1"></script>
    </head><body><form class="checkout"><button id="pay" class="btn primary" type="button">Pay</button></form></body></html>`,
  // The collector answers 429 for project 429, and fails at the network level for project 7
  // while `down` is set.
  limited: (host) => `<!doctype html><html><head>
    <script src="http://${host}/sdk/backstop.js" crossorigin="anonymous" data-dsn="http://${KEY}@${host}/429"></script></head><body></body></html>`,
  flaky: (host) => `<!doctype html><html><head>
    <script src="http://${host}/sdk/backstop.js" crossorigin="anonymous" data-dsn="http://${KEY}@${host}/7"></script></head><body></body></html>`,
  // A page whose own fetch wrapper (installed before the SDK, so the SDK sends through it)
  // captures an error after every request it sees, the SDK's included.
  hostile: (host) => `<!doctype html><html><head>
    <script>
      var real = window.fetch; window.__seen = 0;
      window.fetch = function () {
        window.__seen++;
        var p = real.apply(this, arguments);
        p.then(function () { Backstop.captureException(new Error('patched fetch saw request ' + window.__seen)); }, function () {});
        return p;
      };
    </script>
    <script src="http://${host}/sdk/backstop.js" crossorigin="anonymous"></script>
    <script>Backstop.init({ dsn: 'http://${KEY}@${host}/1', maxEvents: 20 }); Backstop.captureMessage('start');</script>
    </head><body></body></html>`,
  // A DSN that does not parse.
  baddsn: (host) => `<!doctype html><html><head>
    <script src="http://${host}/sdk/backstop.js" crossorigin="anonymous" data-dsn="not-a-dsn"></script>
    </head><body></body></html>`,
  slow: (host) => `<!doctype html><html><head>
    <script src="http://${host}/sdk/backstop.js" crossorigin="anonymous" data-dsn="http://${KEY}@${host}/5"></script></head><body></body></html>`,
  // allowUrls naming the page's own origin; the page's code calls JSON.parse.
  allowparse: (host) => `<!doctype html><html><head>
    <script src="http://${host}/sdk/backstop.js" crossorigin="anonymous"></script>
    <script>
      Backstop.init({ dsn: 'http://${KEY}@${host}/1', allowUrls: [location.origin] });
      window.parseLater = function () { setTimeout(function parseConfig() { JSON.parse('{"unterminated'); }, 0); };
    </script></head><body></body></html>`,
  // Release health: a release, and the opt-outs.
  session: (host) => `<!doctype html><html><head>
    <script src="http://${host}/sdk/backstop.js" crossorigin="anonymous" data-dsn="http://${KEY}@${host}/1" data-release="web@3" data-environment="staging"></script>
    </head><body></body></html>`,
  nosessions: (host) => `<!doctype html><html><head>
    <script src="http://${host}/sdk/backstop.js" crossorigin="anonymous" data-dsn="http://${KEY}@${host}/1" data-release="web@3" data-sessions="false"></script>
    </head><body></body></html>`,
  initnosessions: (host) => `<!doctype html><html><head>
    <script src="http://${host}/sdk/backstop.js" crossorigin="anonymous"></script>
    <script>Backstop.init({ dsn: 'http://${KEY}@${host}/1', release: 'web@3', sessions: false });</script>
    </head><body></body></html>`,
  // Backstop.test() against a collector that refuses the key (403), and one that never stores.
  refused: (host) => `<!doctype html><html><head>
    <script src="http://${host}/sdk/backstop.js" crossorigin="anonymous" data-dsn="http://${KEY}@${host}/403"></script></head><body></body></html>`,
  unstored: (host) => `<!doctype html><html><head>
    <script src="http://${host}/sdk/backstop.js" crossorigin="anonymous" data-dsn="http://${KEY}@${host}/9"></script></head><body></body></html>`,
  // The inline snippet first, errors before backstop.js arrives (added once they happened).
  snippet: (host) => `<!doctype html><html><head>
    ${snippetTag}
    <script>
      window.__sent = [];
      addEventListener('backstop:sent', function (e) { window.__sent.push(e.detail); });
      setTimeout(function () { throw new TypeError('thrown before backstop.js'); }, 0);
      Promise.reject(new Error('rejected before backstop.js'));
      setTimeout(function () {
        var s = document.createElement('script');
        s.src = 'http://${host}/sdk/backstop.js';
        s.crossOrigin = 'anonymous';
        s.dataset.dsn = 'http://${KEY}@${host}/1';
        document.head.appendChild(s);
      }, 200);
    </script></head><body></body></html>`,
  // backstop_bg.js missing (404) or not the file backstop.js was built with.
  nobg: (host) => `<!doctype html><html><head>
    <script src="http://${host}/nobg/backstop.js" crossorigin="anonymous" data-dsn="http://${KEY}@${host}/1"></script>
    <script>window.__sent = []; addEventListener('backstop:sent', function (e) { window.__sent.push(e.detail); });</script>
    </head><body></body></html>`,
  badbg: (host) => `<!doctype html><html><head>
    <script src="http://${host}/badbg/backstop.js" crossorigin="anonymous" data-dsn="http://${KEY}@${host}/1"></script>
    </head><body></body></html>`,
  // A page whose CSP allows scripts by nonce only: backstop_bg.js gets backstop.js's nonce.
  nonce: (host) => `<!doctype html><html><head>
    <script nonce="n0nce" src="http://${host}/sdk/backstop.js" crossorigin="anonymous" data-dsn="http://${KEY}@${host}/1"></script>
    </head><body></body></html>`,
  // The wasm loaded at once, not on the first error.
  eager: (host) => `<!doctype html><html><head>
    <script src="http://${host}/sdk/backstop.js" crossorigin="anonymous" data-dsn="http://${KEY}@${host}/1" data-lazy="false"></script>
    </head><body></body></html>`,
};

async function serve(req, res) {
  const url = new URL(req.url, base);
  const send = (status, type, body, headers = {}) => {
    res.writeHead(status, { 'content-type': type, 'access-control-allow-origin': '*', ...headers });
    res.end(body);
  };
  if (req.method === 'POST' && url.pathname === '/api/7/envelope/' && down) {
    req.socket.destroy();
    return undefined;
  }
  if (req.method === 'POST' && url.pathname === '/api/429/envelope/') {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    received.push({ query: url.searchParams, contentType: req.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') });
    return send(429, 'application/json', '{"error":"rate_limited"}', {
      'retry-after': '60', 'x-sentry-rate-limits': '60:error:key',
      'access-control-expose-headers': 'retry-after, x-sentry-rate-limits',
    });
  }
  if (req.method === 'POST' && url.pathname === '/api/5/envelope/') {
    slow.now++;
    slow.max = Math.max(slow.max, slow.now);
    const chunks = [];
    for await (const c of req) chunks.push(c);
    await new Promise((r) => setTimeout(r, 30));
    received.push({ query: url.searchParams, contentType: req.headers['content-type'], mode: req.headers['sec-fetch-mode'], body: Buffer.concat(chunks).toString('utf8') });
    slow.now--;
    return send(200, 'application/json', '{}');
  }
  if (req.method === 'POST' && /^\/api\/(1|7|9)\/envelope\/$/.test(url.pathname)) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const entry = { query: url.searchParams, contentType: req.headers['content-type'], mode: req.headers['sec-fetch-mode'], body: Buffer.concat(chunks).toString('utf8') };
    (entry.body.split('\n')[1].includes('"session"') ? sessions : received).push(entry);
    return send(200, 'application/json', '{}');
  }
  if (/^\/api\/403\//.test(url.pathname)) {
    return send(403, 'application/json', '{"error":"invalid_key","detail":"invalid public key for this project"}');
  }
  // The receipt endpoint: project 1 has stored what it received; project 9 never stores.
  const receipt = url.pathname.match(/^\/api\/(1|9)\/receipt\/([0-9a-f]{32})$/);
  if (receipt) {
    receipts.push({ query: url.searchParams, mode: req.headers['sec-fetch-mode'] });
    const stored = receipt[1] === '1' && received.some((r) => r.body.includes(`"event_id":"${receipt[2]}"`));
    return stored
      ? send(200, 'application/json', JSON.stringify({ received: true, received_at: Date.now() }))
      : send(404, 'application/json', JSON.stringify({ error: 'not_found', detail: `event ${receipt[2]} not found` }));
  }
  const file = url.pathname.match(/^\/(sdk|broken|nobg|badbg)\/(backstop\.js|backstop_bg\.js|backstop_bg\.wasm)$/);
  if (file) {
    if (file[2] === 'backstop_bg.wasm') wasmLoads++;
    if (file[2] === 'backstop_bg.js' && req.method === 'GET') bgLoads++;
    if (file[1] === 'broken' && file[2] === 'backstop_bg.wasm') return send(404, 'text/plain', 'no');
    if (file[1] === 'nobg' && file[2] === 'backstop_bg.js') return send(404, 'text/plain', 'no');
    if (file[1] === 'badbg' && file[2] === 'backstop_bg.js') return send(200, 'text/javascript', 'window.__tampered = true;');
    const type = file[2].endsWith('.wasm') ? 'application/wasm' : 'text/javascript';
    return send(200, type, await readFile(path.join(SDK_DIR, file[2])));
  }
  if (url.pathname === '/api/fail') return send(500, 'text/plain', 'boom');
  if (url.pathname === '/api/ok') return send(200, 'text/plain', 'ok');
  if (url.pathname === '/xorigin.js') {
    return send(200, 'text/javascript', `
      setTimeout(function timerCallback(a, b) { window.__timerArgs = [a, b]; throw new Error('from cross-origin timer'); }, 0, 1, 2);
      function onCustom(e) { window.__listenerThis = this === document.getElementById('b'); window.__calls = (window.__calls || 0) + 1; throw new TypeError('from cross-origin listener'); }
      document.addEventListener('DOMContentLoaded', function () {
        var b = document.getElementById('b');
        if (!b) return;
        b.addEventListener('custom', onCustom);
        b.addEventListener('custom', onCustom);
        b.dispatchEvent(new Event('custom'));
        b.removeEventListener('custom', onCustom);
        b.dispatchEvent(new Event('custom'));
      });`);
  }
  const page = url.pathname.match(/^\/page\/(\w+)\.html$/);
  if (page && pages[page[1]]) {
    const host = `127.0.0.1:${url.port}`;
    const csp = pageCsp[page[1]];
    return send(200, 'text/html', pages[page[1]](host, url.port), csp ? { 'content-security-policy': csp(host) } : {});
  }
  return send(404, 'text/plain', 'not found');
}

before(async () => {
  snippetTag = (await readFile(path.join(SDK_DIR, 'snippet.html'), 'utf8')).trim();
  server = http.createServer((req, res) => serve(req, res).catch((e) => { res.writeHead(500); res.end(String(e)); }));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${server.address().port}`;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
});

after(async () => {
  await browser?.close();
  await new Promise((r) => server?.close(r));
});

async function open(name) {
  received = [];
  sessions = [];
  receipts = [];
  wasmLoads = 0;
  bgLoads = 0;
  const context = await browser.newContext();
  const page = await context.newPage();
  const log = { errors: [], console: [] };
  page.on('pageerror', (e) => log.errors.push(e.message));
  page.on('console', (m) => log.console.push(`${m.type()}: ${m.text()}`));
  // The page is on its own origin (localhost); the SDK and the collector on 127.0.0.1, as a real
  // site loads the SDK from the worker's origin.
  await page.goto(`${base.replace('127.0.0.1', 'localhost')}/page/${name}.html`, { waitUntil: 'load' });
  return { context, page, log };
}

async function until(fn, what, timeout = 5000) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const events = () => received.filter((r) => r.body.split('\n')[1].includes('"event"')).map((r) => parseEnvelope(r.body).event);

function parseEnvelope(body) {
  const [header, item, payload, rest] = body.split('\n');
  assert.equal(rest, '', 'envelope ends with a newline');
  assert.equal(JSON.parse(item).length, Buffer.byteLength(payload), 'item length is the payload byte length');
  return { header: JSON.parse(header), item: JSON.parse(item), event: JSON.parse(payload) };
}

test('buffers early errors, replays queued calls, sends envelopes and adds only window.Backstop', async () => {
  const { context, page, log } = await open('data');
  try {
    await page.evaluate(() => window.Backstop.ready);
    const sent = await until(
      () => page.evaluate(() => (window.__sent.length >= 4 ? window.__sent : null)),
      'four backstop:sent events',
    );
    await until(() => received.length >= 4, 'four envelopes at the collector');
    await new Promise((r) => setTimeout(r, 200));

    const kinds = sent.map((d) => d.kind).sort();
    assert.deepEqual(kinds, ['error', 'message', 'rejection', 'resource'], JSON.stringify(sent));
    assert.equal(await page.evaluate(() => window.__queuedId), undefined, 'a queued call has no id yet');
    for (const d of sent) {
      assert.match(d.event_id, /^[0-9a-f]{32}$/);
      assert.equal(d.transport, 'fetch');
    }
    const byKind = Object.fromEntries(sent.map((d) => [d.kind, d]));
    assert.equal(byKind.error.type, 'Error');
    assert.equal(byKind.error.message, 'early error');
    assert.equal(byKind.rejection.message, 'Non-Error promise rejection: early rejection');
    assert.match(byKind.resource.message, /^Failed to load <img> http:\/\/localhost:\d+\/missing\.png$/);
    assert.equal(byKind.message.type, null);
    assert.equal(byKind.message.message, 'queued before ready');

    assert.equal(received.length, 4, 'one envelope per event');
    for (const r of received) {
      assert.equal(r.query.get('sentry_key'), KEY);
      assert.equal(r.query.get('sentry_version'), '7');
      assert.match(r.contentType, /^text\/plain/);
      const { header, item, event } = parseEnvelope(r.body);
      assert.equal(item.type, 'event');
      assert.equal(header.event_id, event.event_id);
      assert.equal(header.dsn, `http://${KEY}@${new URL(base).host}/1`);
      assert.equal(event.release, 'smoke@1');
      assert.equal(event.environment, 'smoke');
      assert.equal(event.platform, 'javascript');
      assert.ok(sent.some((d) => d.event_id === event.event_id), 'announced on backstop:sent');
    }
    const message = received.map((r) => parseEnvelope(r.body).event).find((e) => e.message);
    assert.equal(message.level, 'warning');

    // After the hand-over the SDK's own hooks report: a fetch answered 500.
    received = [];
    const status = await page.evaluate(() => fetch('/api/fail').then((r) => r.status));
    assert.equal(status, 500);
    await until(() => received.length >= 1, 'the fetch event');
    const fetchEvent = parseEnvelope(received[0].body).event;
    assert.equal(fetchEvent.exception.values[0].mechanism.type, 'fetch');
    assert.match(fetchEvent.exception.values[0].value, /^GET http:\/\/localhost:\d+\/api\/fail responded 500$/);

    const added = await page.evaluate(() =>
      Object.getOwnPropertyNames(window).filter((n) => !window.__before.includes(n) && !n.startsWith('__')),
    );
    assert.deepEqual(added, ['Backstop'], 'the page gains window.Backstop only');
    assert.deepEqual(log.errors.sort(), ['early error', 'early rejection'].sort(), 'only the page\'s own errors');
  } finally {
    await context.close();
  }
});

test('Backstop.init before the wasm is ready works and options apply', async () => {
  const { context, page, log } = await open('init');
  try {
    await page.evaluate(() => window.Backstop.ready);
    await until(() => received.length >= 1, 'the queued exception');
    const { event } = parseEnvelope(received[0].body);
    assert.equal(event.exception.values[0].type, 'TypeError');
    assert.equal(event.exception.values[0].value, 'queued exception');
    assert.ok(event.exception.values[0].stacktrace.frames.length >= 1, 'frames from the real stack');
    // maxEvents: 2 — one left.
    const ids = await page.evaluate(() => [Backstop.captureMessage('a'), Backstop.captureMessage('b')]);
    assert.match(ids[0], /^[0-9a-f]{32}$/);
    assert.equal(ids[1], undefined, 'budget of two spent');
    assert.deepEqual(log.errors, []);
    // The cap is per session: a reload in the same tab does not reset it.
    await until(() => events().some((e) => e.message === 'a'), 'event a at the collector');
    received = [];
    await page.reload();
    await page.evaluate(() => window.Backstop.ready);
    assert.equal(await page.evaluate(() => Backstop.captureMessage('after reload')), undefined);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(events().map((e) => e.message || e.exception.values[0].value), [], 'no event after the reload (the old page\'s client report may arrive)');
  } finally {
    await context.close();
  }
});

test('a missing wasm is reported without the wasm (what was captured listed), logs once, never throws into the page', async () => {
  const { context, page, log } = await open('broken');
  try {
    const outcome = await page.evaluate(() => window.Backstop.ready.then(() => 'resolved', (e) => 'rejected'));
    assert.equal(outcome, 'rejected');
    // Within the backoff: kept, not retried, nothing thrown.
    const after = await page.evaluate(() => [window.__result, Backstop.captureMessage('later'), Backstop.init({ dsn: 'x' })]);
    assert.deepEqual(after, [null, null, null].map(() => undefined));
    await until(() => received.length >= 1, 'the load-failure report');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(received.length, 1, 'one report for one failed load');
    const [header, item, payload] = received[0].body.split('\n');
    assert.equal(JSON.parse(item).type, 'event');
    assert.match(JSON.parse(header).event_id, /^[0-9a-f]{32}$/);
    const event = JSON.parse(payload);
    assert.equal(event.message, `SDK failed to load: HTTP 404 for ${event.extra.wasm_url}`);
    assert.match(event.extra.wasm_url, /\/broken\/backstop_bg\.wasm$/);
    assert.deepEqual(event.fingerprint, ['backstop-sdk-failed-to-load']);
    assert.match(event.request.url, /^http:\/\/localhost:\d+\/page\/broken\.html$/);
    assert.equal(event.extra.captured_meanwhile.length, 1, JSON.stringify(event.extra));
    assert.match(event.extra.captured_meanwhile[0], /capture_message: into the void$/);
    assert.equal(received[0].query.get('sentry_key'), KEY);
    const warnings = log.console.filter((l) => l.includes('[backstop]'));
    assert.equal(warnings.length, 1, log.console.join('\n'));
    assert.match(warnings[0], /^warning: \[backstop\] SDK could not load .*broken\/backstop_bg\.wasm: HTTP 404/);
    assert.deepEqual(log.errors, [], 'nothing thrown into the page, no unhandled rejection');
    // The page going away sends what was captured since (the 'later' message) by beacon.
    await page.evaluate(() => window.dispatchEvent(new Event('pagehide')));
    await until(() => received.length >= 2, 'the records captured after the report, on pagehide');
    assert.match(JSON.parse(received[1].body.split('\n')[2]).extra.captured_meanwhile[0], /capture_message: later$/);
  } finally {
    await context.close();
  }
});

test('allowUrls: an error thrown by JSON.parse in the page\'s own code is kept', async () => {
  const { context, page, log } = await open('allowparse');
  try {
    await page.evaluate(() => Backstop.load());
    await page.evaluate(() => window.parseLater());
    await until(() => events().some((e) => e.exception?.values?.at(-1)?.type === 'SyntaxError'), 'the SyntaxError event')
      .catch((e) => { throw new Error(`${e.message}: ${JSON.stringify(received.map((r) => r.body.slice(0, 600)))} ${JSON.stringify(log)}`); });
  } finally {
    await context.close();
  }
});

test('a page whose Date.now calls back into the SDK does not trap it', async () => {
  const { context, page, log } = await open('plain');
  try {
    await page.evaluate(() => window.Backstop.load());
    const ids = await page.evaluate(() => {
      const real = Date.now;
      let inside = false;
      Date.now = function () {
        if (!inside) { inside = true; try { Backstop.captureMessage('from inside Date.now'); } finally { inside = false; } }
        return real.call(Date);
      };
      const a = Backstop.captureMessage('outer message');
      Date.now = real;
      const b = Backstop.captureMessage('after restoring Date.now');
      return [a, b];
    });
    assert.ok(ids.every((id) => typeof id === 'string' && id.length === 32), `both captures returned ids: ${JSON.stringify(ids)}`);
    await until(() => received.some((r) => r.body.includes('after restoring Date.now')), 'the event after the callback');
    assert.deepEqual(log.console.filter((l) => l.includes('internal error')), [], 'no trap');
  } finally {
    await context.close();
  }
});

test('a Rust panic inside the SDK is printed once and switches the SDK off, never re-entering', async () => {
  const { context, page, log } = await open('data');
  try {
    await page.evaluate(() => window.Backstop.ready);
    await until(() => page.evaluate(() => window.__sent.length >= 4), 'the page\'s first events');
    const before = received.length;
    const errorsBefore = log.errors.length;
    const after = await page.evaluate(async () => {
      window.Backstop._selfTestPanic();
      const ids = [window.Backstop.captureMessage('after the panic'), window.Backstop.captureException(new Error('after'))];
      setTimeout(() => { throw new Error('uncaught after the panic'); }, 0);
      await new Promise((r) => setTimeout(r, 300));
      return ids;
    });
    assert.deepEqual(after, [undefined, undefined], 'a disabled SDK captures nothing');
    const panics = log.console.filter((l) => l.includes('backstop self-test panic'));
    assert.equal(panics.length, 1, `the panic is printed once by console_error_panic_hook:\n${log.console.join('\n')}`);
    assert.match(panics[0], /^error: .*panicked at .*lib\.rs/);
    const disabled = log.console.filter((l) => l.includes('[backstop] SDK disabled after an internal error'));
    assert.equal(disabled.length, 1, log.console.join('\n'));
    assert.equal(received.length, before, 'nothing more is sent');
    assert.deepEqual(log.errors.slice(errorsBefore), ['uncaught after the panic'], 'only the page\'s own error reaches the page');
  } finally {
    await context.close();
  }
});

test('a bad data-dsn is reported on the console, not thrown', async () => {
  const { context, page, log } = await open('baddsn');
  try {
    // Options are validated by the wasm: when it loads, or at once on Backstop.load().
    await page.evaluate(() => { Backstop.load(); });
    await until(() => log.console.some((l) => l.includes('[backstop]')), 'the console error');
    assert.ok(log.console.some((l) => /^error: \[backstop\] Backstop\.init: invalid dsn "not-a-dsn"/.test(l)), log.console.join('\n'));
    assert.deepEqual(log.errors, []);
    assert.equal(await page.evaluate(() => Backstop.captureMessage('x')), undefined, 'not initialised: queued, no id');
  } finally {
    await context.close();
  }
});

test('errors in wrapped timer and listener callbacks keep their stack; behaviour is unchanged', async () => {
  const { context, page, log } = await open('wrap');
  try {
    await page.evaluate(() => window.Backstop.ready);
    await until(() => events().length >= 2, 'two events from the cross-origin callbacks');
    await new Promise((r) => setTimeout(r, 300));
    const evs = events();
    assert.equal(evs.length, 2, JSON.stringify(evs.map((e) => e.exception.values[0].value)));
    const byValue = Object.fromEntries(evs.map((e) => [e.exception.values[0].value, e.exception.values[0]]));
    const timer = byValue['from cross-origin timer'];
    const listener = byValue['from cross-origin listener'];
    assert.ok(timer && listener, Object.keys(byValue).join(', '));
    assert.equal(listener.type, 'TypeError');
    assert.equal(timer.mechanism.data.function, 'setTimeout');
    assert.equal(listener.mechanism.data.function, 'addEventListener');
    const has = (e, name) => e.stacktrace.frames.some((f) => (f.function || '').endsWith(name));
    assert.ok(has(timer, 'timerCallback'), JSON.stringify(timer.stacktrace));
    assert.ok(has(listener, 'onCustom'), JSON.stringify(listener.stacktrace));
    assert.match(timer.stacktrace.frames.at(-1).filename, /^http:\/\/127\.0\.0\.1:\d+\/xorigin\.js$/);
    const seen = await page.evaluate(() => ({ args: window.__timerArgs, self: window.__listenerThis, calls: window.__calls, pageErrors: window.__pageErrors }));
    assert.deepEqual(seen.args, [1, 2], 'arguments passed through');
    assert.equal(seen.self, true, 'this is the element');
    assert.equal(seen.calls, 1, 'added twice, runs once; removed with the original function');
    assert.equal(seen.pageErrors.length, 2, 'the page still sees its uncaught errors');
    assert.equal(log.errors.length, 2, 'rethrown unchanged');
    const r = await page.evaluate(() => { var id = setTimeout(function () {}, 1); clearTimeout(id); return typeof id; });
    assert.equal(r, 'number');
    // The rethrown errors reached window.onerror as "Script error." and were neither sent nor
    // counted as dropped: they are the same errors.
    await page.evaluate(() => Backstop.flush());
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!received.some((x) => x.body.includes('client_report')), 'nothing dropped');
    // A function is a value like any other: captureException never calls it.
    await page.evaluate(() => { window.__called = false; Backstop.captureException(function f() { window.__called = true; }); });
    assert.equal(await page.evaluate(() => window.__called), false);
  } finally {
    await context.close();
  }
});

test('without wrapping (data-wrap-callbacks="false") a cross-origin error is only "Script error." and dropped', async () => {
  const { context, page } = await open('nowrap');
  try {
    await page.evaluate(() => window.Backstop.ready);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(events().length, 0, 'Script error. is dropped, as Relay and Sentry do');
    await page.evaluate(() => Backstop.flush());
    await until(() => received.some((r) => r.body.includes('client_report')), 'the client report');
    const report = received.find((r) => r.body.includes('client_report')).body.split('\n')[2];
    assert.deepEqual(JSON.parse(report).discarded_events, [{ reason: 'event_processor', category: 'error', quantity: 1 }]);
  } finally {
    await context.close();
  }
});

test('breadcrumbs: clicks, navigation, console, fetch and XHR; XHR failures are events', async () => {
  const { context, page, log } = await open('plain');
  try {
    // All of this happens before the wasm is loaded: the stub keeps it, with its times.
    const t0 = Date.now();
    await page.click('#pay');
    await page.evaluate(() => { history.pushState({}, '', '/step/2'); console.warn('low stock', 3); });
    await page.evaluate(() => fetch('/api/ok').then((r) => r.text()));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(wasmLoads, 0, 'no wasm while nothing went wrong');
    await page.evaluate(() => new Promise((resolve) => {
      const x = new XMLHttpRequest(); x.open('POST', '/api/fail'); x.onloadend = resolve; x.send('a');
    }));
    await page.evaluate(() => new Promise((resolve) => {
      const x = new XMLHttpRequest(); x.open('GET', 'http://127.0.0.1:9/nothing'); x.onloadend = resolve; x.send();
    }));
    // One XHR object used twice: one breadcrumb per request, not per send so far.
    await page.evaluate(() => new Promise((resolve) => {
      const x = new XMLHttpRequest();
      x.open('GET', '/api/ok');
      x.onloadend = () => { x.onloadend = resolve; x.open('GET', '/api/ok?again'); x.send(); };
      x.send();
    }));
    await until(() => events().length >= 2, 'the two XHR events');
    const [http500, network] = events();
    assert.equal(http500.exception.values[0].type, 'HTTPError');
    assert.match(http500.exception.values[0].value, /^POST http:\/\/localhost:\d+\/api\/fail responded 500$/);
    assert.equal(http500.exception.values[0].mechanism.type, 'xhr');
    assert.equal(http500.tags['http.status_code'], '500');
    assert.equal(network.exception.values[0].value, 'GET http://127.0.0.1:9/nothing failed: network error');
    const crumbs = http500.breadcrumbs.values;
    const cats = crumbs.map((c) => c.category);
    assert.deepEqual(cats.slice(0, 4), ['ui.click', 'navigation', 'console', 'fetch'], JSON.stringify(crumbs));
    assert.equal(crumbs[0].message, 'html > body > form.checkout > button#pay.btn.primary');
    assert.match(crumbs[1].data.to, /\/step\/2$/);
    assert.equal(crumbs[2].message, 'low stock 3');
    assert.equal(crumbs[2].level, 'warning');
    assert.equal(crumbs[3].data.status_code, 200);
    assert.equal(typeof crumbs[3].data.duration_ms, 'number');
    const loadedAt = Date.parse(http500.timestamp) || http500.timestamp * 1000;
    assert.ok(crumbs[0].timestamp * 1000 >= t0 - 1000 && crumbs[0].timestamp * 1000 <= crumbs[3].timestamp * 1000 + 1,
      `a kept breadcrumb has the time of the click: ${JSON.stringify(crumbs.slice(0, 4))}`);
    assert.ok(crumbs[3].timestamp * 1000 < loadedAt - 250, `…not the time the wasm loaded (${loadedAt})`);
    assert.equal(wasmLoads, 1);
    await page.evaluate(() => Backstop.captureMessage('after the reused XHR'));
    await until(() => events().length >= 3, 'the message');
    const reused = events()[2].breadcrumbs.values.filter((c) => c.category === 'xhr' && /\/api\/ok/.test(c.data.url)).map((c) => c.data.url.replace(/^.*\/api/, '/api'));
    assert.deepEqual(reused, ['/api/ok', '/api/ok?again'], 'a reused XHR: one breadcrumb per request');
    const xhrCrumb = network.breadcrumbs.values.find((c) => c.category === 'xhr');
    assert.equal(xhrCrumb.data.method, 'POST');
    assert.equal(xhrCrumb.data.status_code, 500);
    assert.deepEqual(log.errors, []);
  } finally {
    await context.close();
  }
});

test('scope API, beforeSend, ignoreErrors with a RegExp, error.cause, hostile getters', async () => {
  const { context, page, log } = await open('plain');
  try {
    // Called before the wasm is loaded: Backstop.init's options apply to what waited.
    await page.evaluate((dsn) => {
      Backstop.init({
        dsn, ignoreErrors: [/^Error: ignore me/],
        beforeSend(event, hint) {
          if (event.message === 'drop me') return null;
          if (event.message === 'throw') throw new Error('beforeSend bug');
          event.tags.seen_by = hint.originalException === undefined ? 'message' : 'exception';
          return event;
        },
      });
      Backstop.setUser({ id: 'u1', email: 'a@b.test' });
      Backstop.setTag('plan', 'pro');
      Backstop.setContext('cart', { items: 3 });
      Backstop.setExtra('answer', 42);
      Backstop.addBreadcrumb({ get message() { throw new Error('getter'); } });
      Backstop.addBreadcrumb({ category: 'auth', message: 'signed in', level: 'info' });
      Backstop.captureMessage('drop me');
      Backstop.captureMessage('throw');
      Backstop.captureException(new Error('ignore me please'));
      const err = new Error('outer', { cause: new RangeError('inner', { cause: 'root text' }) });
      Backstop.captureException(err);
      const hostile = new Error('hostile');
      Object.defineProperty(hostile, 'stack', { get() { Backstop.captureException(new Error('from getter')); throw new Error('getter'); } });
      Backstop.captureException(hostile);
    }, `http://${KEY}@${new URL(base).host}/1`);
    await until(() => events().length >= 2, 'two events');
    await new Promise((r) => setTimeout(r, 300));
    const evs = events();
    assert.equal(evs.length, 2, JSON.stringify(evs.map((e) => e.exception.values.at(-1).value)));
    const [chained, hostile] = evs;
    assert.deepEqual(chained.exception.values.map((v) => [v.type, v.value]),
      [['Error', 'root text'], ['RangeError', 'inner'], ['Error', 'outer']]);
    assert.deepEqual(chained.user, { id: 'u1', email: 'a@b.test' });
    assert.equal(chained.tags.plan, 'pro');
    assert.equal(chained.tags.seen_by, 'exception');
    assert.deepEqual(chained.contexts.cart, { items: 3 });
    assert.equal(chained.extra.answer, 42);
    assert.equal(chained.breadcrumbs.values.at(-1).message, 'signed in');
    assert.equal(hostile.exception.values[0].value, 'hostile', 'no stack, no second event from the getter');
    assert.deepEqual(log.errors, []);
  } finally {
    await context.close();
  }
});

test('a collector answering 429 forever: one request, no loop, the page keeps working, drops reported', async () => {
  const { context, page, log } = await open('limited');
  try {
    await page.evaluate(() => window.Backstop.load());
    await page.evaluate(() => setTimeout(() => { throw new Error('first'); }, 0));
    await until(() => received.length >= 1, 'the first event, answered 429');
    await new Promise((r) => setTimeout(r, 200));
    await page.evaluate(() => { for (let i = 0; i < 50; i++) setTimeout(() => { throw new Error('loop ' + i); }, 0); });
    await new Promise((r) => setTimeout(r, 800));
    const sent = received.filter((r) => r.body.includes('"type":"event"'));
    assert.equal(sent.length, 1, 'after the first 429 nothing more is sent');
    assert.equal(await page.evaluate(() => 1 + 1), 2, 'the page is responsive');
    await page.evaluate(() => window.dispatchEvent(new Event('pagehide')));
    await until(() => received.some((r) => r.body.includes('client_report')), 'the client report (internal is not limited)');
    const report = JSON.parse(received.find((r) => r.body.includes('client_report')).body.split('\n')[2]);
    assert.deepEqual(report.discarded_events, [{ reason: 'ratelimit_backoff', category: 'error', quantity: 51 }]);
    assert.equal(log.errors.length, 51, 'only the page\'s own errors');
  } finally {
    await context.close();
  }
});

test('a burst during a short outage is sent within seconds of the collector coming back (backoff per retry round)', async () => {
  down = true;
  const { context, page } = await open('flaky');
  try {
    await page.evaluate(() => window.Backstop.load());
    await page.evaluate(() => { for (let i = 0; i < 12; i++) Backstop.captureMessage('burst ' + i); });
    await until(() => page.evaluate(() => Object.keys(localStorage).some((k) => k.startsWith('backstop:queue:'))), 'the queue in localStorage');
    await new Promise((r) => setTimeout(r, 4000));
    assert.equal(events().length, 0, 'nothing arrives while the collector is down');
    down = false;
    const back = Date.now();
    // No `online` event, no new capture: only the retry schedule brings them.
    await until(() => events().length >= 12, 'the 12 events after the outage', 15_000);
    const seconds = (Date.now() - back) / 1000;
    assert.ok(seconds < 15, `arrived ${seconds} s after recovery`);
    assert.deepEqual(events().map((e) => e.message).sort(), Array.from({ length: 12 }, (_, i) => 'burst ' + i).sort());
  } finally {
    down = false;
    await page.evaluate(() => localStorage.clear()).catch(() => {});
    await context.close();
  }
});

test('offline: envelopes that hit a network error are kept in localStorage and sent once the collector is back', async () => {
  down = true;
  const { context, page } = await open('flaky');
  try {
    await page.evaluate(() => window.Backstop.load());
    await page.evaluate(() => { Backstop.captureMessage('while offline 1'); Backstop.captureMessage('while offline 2'); });
    await until(() => page.evaluate(() => Object.keys(localStorage).some((k) => k.startsWith('backstop:queue:'))), 'the queue in localStorage');
    assert.equal(events().length, 0);
    // A reload while still offline keeps them; the stub sees the kept queue and loads the
    // wasm by itself (nothing else on the page would); then the collector comes back.
    wasmLoads = 0;
    await page.reload();
    await page.evaluate(() => window.Backstop.ready);
    assert.equal(wasmLoads, 1, 'loaded for the kept queue');
    down = false;
    await page.evaluate(() => window.dispatchEvent(new Event('online')));
    await until(() => events().length >= 2, 'the queued events', 8000);
    assert.deepEqual(events().map((e) => e.message).sort(), ['while offline 1', 'while offline 2']);
    await until(() => page.evaluate(() => !Object.keys(localStorage).some((k) => k.startsWith('backstop:queue:'))), 'the queue emptied');
  } finally {
    down = false;
    await context.close();
  }
});

test('a page whose fetch wrapper captures on every request (the SDK\'s own too) is bounded, never a loop', async () => {
  const { context, page, log } = await open('hostile');
  try {
    await page.evaluate(() => window.Backstop.ready);
    await new Promise((r) => setTimeout(r, 1500));
    const n = events().length;
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(events().length, n, 'it stopped');
    assert.ok(n <= 20, `at most maxEvents events: ${n}`);
    assert.equal(await page.evaluate(() => 6 * 7), 42, 'the page is responsive');
    assert.deepEqual(log.errors, []);
  } finally {
    await context.close();
  }
});

test('lazy loading: no wasm until there is something to report; breadcrumbs kept as a ring, scope per key', async () => {
  const { context, page, log } = await open('plain');
  try {
    await page.evaluate(() => {
      for (let i = 0; i < 150; i++) console.warn('warn ' + i);
      for (let i = 0; i < 300; i++) Backstop.setTag('step', String(i));
      Backstop.setUser({ id: 'early' });
      for (let i = 0; i < 3; i++) history.pushState({}, '', '/p/' + i);
    });
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(wasmLoads, 0, 'breadcrumbs and scope calls alone load nothing (also not after the queue check)');
    await page.evaluate(() => { setTimeout(() => { throw new RangeError('first problem'); }, 0); });
    await until(() => events().length >= 1, 'the event');
    const [ev] = events();
    assert.equal(ev.exception.values[0].value, 'first problem');
    assert.equal(ev.tags.step, '299', 'the latest setTag');
    assert.deepEqual(ev.user, { id: 'early' });
    const values = ev.breadcrumbs.values;
    assert.equal(values.length, 100, 'the last 100 breadcrumbs');
    assert.equal(values[0].message, 'warn 53');
    assert.deepEqual(values.slice(-3).map((c) => c.data.to.replace(/^.*\/p/, '/p')), ['/p/0', '/p/1', '/p/2']);
    assert.equal(wasmLoads, 1);
    assert.equal(log.errors.length, 1);
  } finally {
    await context.close();
  }
});

test('data-lazy="false" loads the wasm at once; Backstop.load() resolves like ready', async () => {
  const { context, page } = await open('eager');
  try {
    await page.evaluate(() => window.Backstop.ready);
    assert.equal(wasmLoads, 1);
    assert.match(await page.evaluate(() => Backstop.captureMessage('sync id')), /^[0-9a-f]{32}$/, 'started: ids are synchronous');
    assert.equal(await page.evaluate(() => Backstop.load().then(() => 'same')), 'same');
    assert.equal(wasmLoads, 1, 'loaded once');
  } finally {
    await context.close();
  }
});

test('a burst of 40 errors: at most 4 requests in flight, all 40 arrive in order', async () => {
  const { context, page, log } = await open('slow');
  try {
    slow.max = 0;
    await page.evaluate(() => Backstop.load());
    const ids = await page.evaluate(() => Array.from({ length: 40 }, (_, i) => Backstop.captureMessage('burst ' + i)));
    assert.equal(ids.filter((id) => /^[0-9a-f]{32}$/.test(id)).length, 40, 'every capture has its id at once');
    await until(() => events().length >= 40, 'all 40 events', 8000);
    assert.ok(slow.max <= 4, `requests in flight at most 4: ${slow.max}`);
    assert.ok(slow.max >= 2, `…and more than one: ${slow.max}`);
    const order = events().map((e) => Number(e.message.split(' ')[1]));
    assert.deepEqual(order.slice(0, 4).sort((a, b) => a - b), [0, 1, 2, 3]);
    assert.deepEqual(new Set(order).size, 40);
    assert.deepEqual(log.errors, []);
  } finally {
    await context.close();
  }
});

test('a burst still waiting when the page hides goes out by beacon', async () => {
  const { context, page } = await open('slow');
  try {
    await page.evaluate(() => Backstop.load());
    await page.evaluate(() => {
      for (let i = 0; i < 12; i++) Backstop.captureMessage('hiding ' + i);
      window.dispatchEvent(new Event('pagehide'));
    });
    await until(() => events().length >= 12, 'all 12 events', 8000);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(events().length, 12, 'each once');
    const modes = received.map((r) => r.mode);
    assert.equal(modes.filter((m) => m === 'cors').length, 4, `4 by fetch: ${modes}`);
    assert.equal(modes.filter((m) => m === 'no-cors').length, 8, `the 8 waiting by sendBeacon: ${modes}`);
  } finally {
    await context.close();
  }
});

/** A session envelope: its header and the session item's payload. */
function parseSession(r) {
  const { header, item, event } = parseEnvelope(r.body);
  assert.equal(item.type, 'session');
  return { header, session: event };
}

test('sessions: one per page load, by beacon, without the wasm; an uncaught error marks it crashed', async () => {
  const { context, page } = await open('session');
  try {
    await until(() => sessions.length >= 1, 'the page load\'s session');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(sessions.length, 1, 'one session per page load');
    assert.equal(wasmLoads, 0, 'a session needs no wasm');
    const [r] = sessions;
    assert.equal(r.query.get('sentry_key'), KEY);
    assert.match(r.contentType, /^text\/plain/, 'a CORS-safelisted type: no preflight');
    assert.equal(r.mode, 'no-cors', 'sent by sendBeacon');
    const { header, session } = parseSession(r);
    assert.equal(header.event_id, undefined);
    assert.match(session.sid, /^[0-9a-f]{32}$/);
    assert.equal(session.init, true);
    assert.equal(session.status, 'ok');
    assert.equal(session.errors, 0);
    assert.ok(Date.parse(session.started) > Date.now() - 60_000, session.started);
    assert.deepEqual(session.attrs, { release: 'web@3', environment: 'staging' });

    // The first uncaught error the SDK sends: one update of the same session, crashed.
    await page.evaluate(() => setTimeout(() => { throw new Error('crash me'); }, 0));
    await until(() => sessions.length >= 2, 'the crashed update');
    await page.evaluate(() => { Backstop.captureException(new Error('handled')); setTimeout(() => { throw new Error('crash again'); }, 0); });
    await until(() => events().length >= 3, 'the three events');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(sessions.length, 2, 'one update: crashed is final');
    const update = parseSession(sessions[1]).session;
    assert.equal(update.sid, session.sid);
    assert.equal(update.init, false);
    assert.equal(update.status, 'crashed');
    assert.equal(update.errors, 1);
    assert.equal(update.started, session.started);

    // A reload is a new page load: a new session.
    await page.reload();
    await until(() => sessions.length >= 3, 'the next page load\'s session');
    assert.notEqual(parseSession(sessions[2]).session.sid, session.sid);
  } finally {
    await context.close();
  }
});

test('sessions: none with data-sessions="false", with Backstop.init({ sessions: false }), or without a release', async () => {
  for (const name of ['nosessions', 'initnosessions', 'plain']) {
    const { context, page } = await open(name);
    try {
      await new Promise((r) => setTimeout(r, 800));
      await page.evaluate(() => Backstop.captureMessage('a message'));
      await until(() => events().length >= 1, `${name}: the message`);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(sessions.length, 0, `${name}: no session`);
    } finally {
      await context.close();
    }
  }
});

test('Backstop.test() through the wasm: tagged test event, receipt polled, received with its round trip', async () => {
  const { context, page, log } = await open('plain');
  try {
    assert.equal(wasmLoads, 0);
    const r = await page.evaluate(() => Backstop.test());
    assert.equal(r.received, true);
    assert.equal(r.via, 'wasm', 'the wasm is loaded for it, as for an error');
    assert.match(r.event_id, /^[0-9a-f]{32}$/);
    assert.ok(Number.isInteger(r.round_trip_ms) && r.round_trip_ms >= 0, JSON.stringify(r));
    const [ev] = events();
    assert.equal(ev.event_id, r.event_id);
    assert.equal(ev.message, 'Backstop test event');
    assert.equal(ev.level, 'info');
    assert.equal(ev.tags['backstop.test'], 'true');
    assert.ok(receipts.length >= 1 && receipts.every((q) => q.query.get('sentry_key') === KEY && q.mode === 'cors'), JSON.stringify(receipts));
    assert.ok(log.console.includes(`log: Backstop: test event received ✓ (${r.round_trip_ms} ms)`), log.console.join('\n'));
    // Another call is another event (the SDK drops an event identical to the one before), and
    // the tag stays on the test events only.
    const again = await page.evaluate(() => Backstop.test());
    assert.notEqual(again.event_id, r.event_id);
    await page.evaluate(() => Backstop.captureMessage('after the tests'));
    await until(() => events().length >= 3, 'the message after');
    const [, second, after] = events();
    assert.equal(second.message, 'Backstop test event (2)');
    assert.equal(after.tags?.['backstop.test'], undefined, 'not on other events');
    assert.equal(events().filter((e) => /UnhandledRejection|fetch/.test(JSON.stringify(e.exception ?? ''))).length, 0, 'its polls (404 until stored) are not reported');
    assert.deepEqual(log.errors, []);
  } finally {
    await context.close();
  }
});

test('Backstop.test() when the wasm cannot load: sent by the stub, still received', async () => {
  const { context, page } = await open('broken');
  try {
    const r = await page.evaluate(() => Backstop.test());
    assert.equal(r.received, true);
    assert.equal(r.via, 'stub');
    const ev = events().find((e) => e.event_id === r.event_id);
    assert.ok(ev, JSON.stringify(events()));
    assert.equal(ev.message, 'Backstop test event');
    assert.equal(ev.tags['backstop.test'], 'true');
    assert.equal(ev.sdk.name, 'backstop.browser.stub');
    assert.ok(events().some((e) => /^SDK failed to load: HTTP 404/.test(e.message)), 'the failure itself is reported too');
  } finally {
    await context.close();
  }
});

test('Backstop.test() rejects with a clear Error: a refused key at once, an event never stored after timeoutMs', async () => {
  {
    const { context, page, log } = await open('refused');
    try {
      const t = Date.now();
      const message = await page.evaluate(() => Backstop.test().then(() => 'resolved', (e) => e instanceof Error && e.message));
      assert.match(message, /^Backstop\.test: the collector refused: HTTP 403 invalid_key: invalid public key for this project$/);
      assert.ok(Date.now() - t < 5000, 'without waiting for the timeout');
      // Left unhandled (as when typed in the console), the rejection is not reported as the page's.
      await page.evaluate(() => { Backstop.test(); });
      await new Promise((r) => setTimeout(r, 1000));
      assert.ok(!received.some((x) => x.body.includes('Backstop.test:')), 'its own failure is not captured');
      assert.equal(log.errors.length, 1, 'the browser still shows it (an uncaught rejection in the console)');
      assert.match(log.errors[0], /^Backstop\.test: the collector refused: HTTP 403/);
    } finally {
      await context.close();
    }
  }
  {
    const { context, page } = await open('unstored');
    try {
      const t = Date.now();
      const message = await page.evaluate(() => Backstop.test({ timeoutMs: 1500 }).then(() => 'resolved', (e) => e.message));
      const took = Date.now() - t;
      assert.match(message, /^Backstop\.test: test event [0-9a-f]{32} not received within 1500 ms \(last: HTTP 404 not_found: event [0-9a-f]{32} not found\)$/);
      assert.ok(took >= 1400 && took < 4000, `rejected after the timeout: ${took} ms`);
    } finally {
      await context.close();
    }
  }
});

test('the inline snippet: at most 600 bytes, its CSP hash in integrity.json is the file\'s', async () => {
  const js = (await readFile(path.join(SDK_DIR, 'snippet.js'), 'utf8')).trim();
  const html = (await readFile(path.join(SDK_DIR, 'snippet.html'), 'utf8')).trim();
  const manifest = JSON.parse(await readFile(path.join(SDK_DIR, 'integrity.json'), 'utf8'));
  assert.ok(Buffer.byteLength(js) <= 600, `${Buffer.byteLength(js)} bytes`);
  assert.equal(html, `<script>${js}</script>`, 'snippet.html is snippet.js in a tag');
  assert.equal(manifest.snippet_csp_hash, `'sha256-${createHash('sha256').update(js).digest('base64')}'`);
  // backstop_bg.js is pinned like the wasm: backstop.js carries its hash, integrity.json names it.
  const bg = await readFile(path.join(SDK_DIR, 'backstop_bg.js'));
  const sri = `sha384-${createHash('sha384').update(bg).digest('base64')}`;
  assert.equal(manifest.bg_js_integrity, sri);
  assert.equal(manifest.bg_js, `/sdk/v${manifest.version}/backstop_bg.js`);
  assert.ok((await readFile(path.join(SDK_DIR, 'backstop.js'), 'utf8')).includes(sri), 'backstop.js carries backstop_bg.js\'s hash');
});

test('the inline snippet keeps errors and rejections from before backstop.js; backstop.js sends them and removes its listeners', async () => {
  const { context, page, log } = await open('snippet');
  try {
    await until(() => events().length >= 2, 'the two early events')
      .catch((e) => { throw new Error(`${e.message}: ${JSON.stringify(received.map((r) => r.body.slice(0, 300)))} ${JSON.stringify(log)}`); });
    const values = events().map((e) => e.exception.values.at(-1));
    assert.deepEqual(values.map((v) => v.value).sort(), ['rejected before backstop.js', 'thrown before backstop.js']);
    assert.equal(values.find((v) => v.value === 'thrown before backstop.js').type, 'TypeError');
    const kinds = await page.evaluate(() => window.__sent.map((d) => d.kind).sort());
    assert.deepEqual(kinds, ['error', 'rejection']);
    assert.equal(await page.evaluate(() => '__backstop' in window), false, 'the snippet\'s global is gone');
    // Its listeners are removed: a later error is captured once, by backstop.js.
    await page.evaluate(() => { setTimeout(() => { throw new Error('after backstop.js'); }, 0); });
    await until(() => events().length >= 3, 'the later event');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(events().filter((e) => e.exception.values.at(-1).value === 'after backstop.js').length, 1);
  } finally {
    await context.close();
  }
});

test('a missing backstop_bg.js is reported like a missing wasm: console warning, report, ready rejected, retried', async () => {
  const { context, page, log } = await open('nobg');
  try {
    await page.evaluate(() => { Backstop.captureMessage('while the script is missing'); });
    const outcome = await page.evaluate(() => window.Backstop.ready.then(() => 'resolved', (e) => 'rejected: ' + e.message));
    assert.match(outcome, /^rejected: HTTP 404 for http:\/\/127\.0\.0\.1:\d+\/nobg\/backstop_bg\.js$/);
    await until(() => received.length >= 1, 'the load-failure report');
    const event = parseEnvelope(received[0].body).event;
    assert.match(event.message, /^SDK failed to load: HTTP 404 for .*\/nobg\/backstop_bg\.js$/);
    assert.deepEqual(event.fingerprint, ['backstop-sdk-failed-to-load']);
    assert.equal(event.sdk.name, 'backstop.browser.stub');
    assert.match(event.extra.captured_meanwhile[0], /capture_message: while the script is missing$/);
    const warnings = log.console.filter((l) => l.includes('[backstop]'));
    assert.equal(warnings.length, 1, log.console.join('\n'));
    assert.match(warnings[0], /^warning: \[backstop\] SDK could not load .*\/nobg\/backstop_bg\.js: HTTP 404/);
    assert.deepEqual(log.errors, [], 'nothing thrown into the page');
    assert.equal(await page.evaluate(() => window.__sent.map((d) => d.kind).join()), 'load_failure');
    assert.equal(events().filter((e) => /failed to load <script>/.test(JSON.stringify(e))).length, 0, 'the script\'s own error event is no page event');
    // Backstop.test() says why, and Backstop.load() tries again.
    const message = await page.evaluate(() => Backstop.test().then(() => 'resolved', (e) => e.message));
    assert.match(message, /^Backstop\.test: the SDK could not load \(HTTP 404 for .*backstop_bg\.js\)$/);
    assert.equal(bgLoads, 2, 'one request per attempt');
  } finally {
    await context.close();
  }
});

test('a backstop_bg.js that does not match its integrity hash never runs and is reported', async () => {
  const { context, page, log } = await open('badbg');
  try {
    await page.evaluate(() => { setTimeout(() => { throw new Error('with a tampered script'); }, 0); });
    await until(() => received.length >= 1, 'the load-failure report');
    const event = parseEnvelope(received[0].body).event;
    assert.match(event.message, /^SDK failed to load: integrity mismatch/);
    assert.match(event.extra.captured_meanwhile[0], /with a tampered script/);
    assert.equal(await page.evaluate(() => window.__tampered), undefined, 'the tampered script did not run');
    assert.equal(log.console.filter((l) => /\[backstop\] SDK could not load .*badbg\/backstop_bg\.js: integrity mismatch/.test(l)).length, 1, log.console.join('\n'));
  } finally {
    await context.close();
  }
});

test('under a nonce-only CSP, backstop_bg.js gets backstop.js\'s nonce and the error is sent', async () => {
  const { context, page, log } = await open('nonce');
  try {
    await page.evaluate(() => { setTimeout(() => { throw new Error('under a nonce CSP'); }, 0); });
    await until(() => events().length >= 1, 'the event')
      .catch((e) => { throw new Error(`${e.message}: ${JSON.stringify(received.map((r) => r.body.slice(0, 300)))} ${JSON.stringify(log)}`); });
    assert.equal(events()[0].exception.values.at(-1).value, 'under a nonce CSP');
    assert.deepEqual(log.console.filter((l) => /Content Security Policy|Refused/i.test(l)), [], 'no CSP violation');
    assert.equal(bgLoads, 1);
  } finally {
    await context.close();
  }
});
