// The built SDK (web-demo/sdk/backstop.js + backstop_bg.wasm) as a page loads it: the JS stub's
// buffering, queueing, data attributes, global-scope hygiene, failure modes, and what actually
// reaches a collector. Build the SDK first, then (Node >= 22):
//   node --test crates/backstop-browser/js/stub.test.mjs
// SDK_DIR overrides the directory holding the built files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFile } from 'node:fs/promises';
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

const pages = {
  // Data attributes; errors, a rejection, a failed image and API calls before the wasm is ready.
  data: (host) => `<!doctype html><html><head>
    <script>window.__before = Object.getOwnPropertyNames(window);</script>
    <script src="/sdk/backstop.js" data-dsn="http://${KEY}@${host}/1" data-release="smoke@1" data-environment="smoke"></script>
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
    <script src="/sdk/backstop.js"></script>
    <script>
      window.__sent = [];
      addEventListener('backstop:sent', function (e) { window.__sent.push(e.detail); });
      Backstop.init({ dsn: 'http://${KEY}@${host}/1', maxEvents: 2 });
      Backstop.captureException(new TypeError('queued exception'));
    </script></head><body></body></html>`,
  // The wasm is missing.
  broken: () => `<!doctype html><html><head>
    <script src="/broken/backstop.js" data-dsn="http://${KEY}@127.0.0.1:1/1"></script>
    <script>window.__result = Backstop.captureMessage('into the void');</script>
    </head><body></body></html>`,
  // A DSN that does not parse.
  baddsn: () => `<!doctype html><html><head>
    <script src="/sdk/backstop.js" data-dsn="not-a-dsn"></script>
    </head><body></body></html>`,
};

async function serve(req, res) {
  const url = new URL(req.url, base);
  const send = (status, type, body, headers = {}) => {
    res.writeHead(status, { 'content-type': type, 'access-control-allow-origin': '*', ...headers });
    res.end(body);
  };
  if (req.method === 'POST' && url.pathname === '/api/1/envelope/') {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    received.push({ query: url.searchParams, contentType: req.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') });
    return send(200, 'application/json', '{}');
  }
  const file = url.pathname.match(/^\/(sdk|broken)\/(backstop\.js|backstop_bg\.wasm)$/);
  if (file) {
    if (file[1] === 'broken' && file[2] === 'backstop_bg.wasm') return send(404, 'text/plain', 'no');
    const type = file[2].endsWith('.wasm') ? 'application/wasm' : 'text/javascript';
    return send(200, type, await readFile(path.join(SDK_DIR, file[2])));
  }
  if (url.pathname === '/api/fail') return send(500, 'text/plain', 'boom');
  const page = url.pathname.match(/^\/page\/(\w+)\.html$/);
  if (page && pages[page[1]]) return send(200, 'text/html', pages[page[1]](url.host));
  return send(404, 'text/plain', 'not found');
}

before(async () => {
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
  const context = await browser.newContext();
  const page = await context.newPage();
  const log = { errors: [], console: [] };
  page.on('pageerror', (e) => log.errors.push(e.message));
  page.on('console', (m) => log.console.push(`${m.type()}: ${m.text()}`));
  await page.goto(`${base}/page/${name}.html`, { waitUntil: 'load' });
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
    assert.match(byKind.resource.message, /^Failed to load <img> http:\/\/127\.0\.0\.1:\d+\/missing\.png$/);
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
    assert.match(fetchEvent.exception.values[0].value, /^GET http:\/\/127\.0\.0\.1:\d+\/api\/fail responded 500$/);

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
  } finally {
    await context.close();
  }
});

test('a missing wasm logs once, rejects ready (handled) and never throws into the page', async () => {
  const { context, page, log } = await open('broken');
  try {
    const outcome = await page.evaluate(() => window.Backstop.ready.then(() => 'resolved', (e) => 'rejected'));
    assert.equal(outcome, 'rejected');
    const after = await page.evaluate(() => [window.__result, Backstop.captureMessage('later'), Backstop.init({ dsn: 'x' })]);
    assert.deepEqual(after, [null, null, null].map(() => undefined));
    await new Promise((r) => setTimeout(r, 200));
    const warnings = log.console.filter((l) => l.includes('[backstop]'));
    assert.equal(warnings.length, 1, log.console.join('\n'));
    assert.match(warnings[0], /^warning: \[backstop\] SDK disabled/);
    assert.deepEqual(log.errors, [], 'nothing thrown into the page, no unhandled rejection');
    assert.equal(received.length, 0);
  } finally {
    await context.close();
  }
});

test('a bad data-dsn is reported on the console, not thrown', async () => {
  const { context, page, log } = await open('baddsn');
  try {
    await until(() => log.console.some((l) => l.includes('[backstop]')), 'the console error');
    assert.ok(log.console.some((l) => /^error: \[backstop\] Backstop\.init: invalid dsn "not-a-dsn"/.test(l)), log.console.join('\n'));
    assert.deepEqual(log.errors, []);
    assert.equal(await page.evaluate(() => Backstop.captureMessage('x')), undefined, 'not initialised: queued, no id');
  } finally {
    await context.close();
  }
});
