// Worker end-to-end: the real worker in workerd (wrangler dev) with local D1, R2 and Durable
// Objects, driven over HTTP the way SDKs and the dashboard use it.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { startWorker, adminGet, eventually, waitStored, waitJobs, DEV_PUBLIC_KEY, DEV_ADMIN_TOKEN } from './lib/harness.mjs';

const KEY = DEV_PUBLIC_KEY;
const MIB = 1024 * 1024;

function envelope(event, header = {}) {
  const payload = Buffer.from(JSON.stringify(event));
  return Buffer.concat([
    Buffer.from(`${JSON.stringify(header)}\n${JSON.stringify({ type: 'event', length: payload.length })}\n`),
    payload,
    Buffer.from('\n'),
  ]);
}

const randomId = () => [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');

async function post(w, path, body, headers = {}) {
  const r = await fetch(`${w.base}${path}`, { method: 'POST', body, headers, duplex: 'half' });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: r.status, headers: r.headers, body: json };
}

const totals = async (w) => (await adminGet(w, '/api/1/stats')).totals;

describe('worker', () => {
  let w;
  before(async () => { w = await startWorker(); });
  after(async () => { await w?.stop(); });

  test('happy path: an envelope is stored, grouped and queryable', async () => {
    const id = randomId();
    // An hour ago: event times more than 30 days old (or a minute ahead) are indexed at receipt.
    const happened = new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000).toISOString();
    const event = {
      event_id: id,
      level: 'error',
      platform: 'javascript',
      timestamp: happened,
      exception: { values: [{ type: 'TypeError', value: 'cart is undefined', mechanism: { type: 'onerror', handled: false },
        stacktrace: { frames: [
          { function: 'main', filename: 'http://shop.test/app.js', lineno: 1, colno: 5, in_app: true },
          { function: 'checkout', filename: 'http://shop.test/app.js', lineno: 42, colno: 7, in_app: true },
        ] } }] },
      request: { url: 'http://shop.test/cart' },
      user: { email: 'buyer@example.com' },
      tags: { plan: 'gold' },
      custom_field: { kept: true },
    };
    const r = await post(w, `/api/1/envelope/?sentry_key=${KEY}&sentry_version=7`, envelope(event, { event_id: id }),
      { 'content-type': 'text/plain;charset=UTF-8' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.id, id);
    assert.equal(r.headers.get('access-control-allow-origin'), '*');

    // A second event of the same bug from another line groups into the same issue.
    const id2 = randomId();
    const again = structuredClone(event);
    again.event_id = id2;
    again.exception.values[0].stacktrace.frames[1].lineno = 43;
    assert.equal((await post(w, `/api/1/store/?sentry_key=${KEY}`, JSON.stringify(again))).status, 200);
    // Stored by the queue consumer about a second after the answer.
    const [detail] = await waitStored(w, [id, id2]) ?? [];
    assert.ok(detail, 'both events stored by the consumer');

    const { issues } = await adminGet(w, '/api/1/issues');
    const issue = issues.find((i) => i.title === 'TypeError: cart is undefined');
    assert.ok(issue, JSON.stringify(issues));
    assert.equal(issue.count, 2);
    assert.equal(issue.culprit, 'checkout (/app.js:43)');

    assert.equal(detail.event.type, 'TypeError');
    assert.equal(detail.event.kind, 'onerror');
    assert.equal(detail.event.user_email, 'buyer@example.com');
    assert.equal(detail.event.timestamp, Date.parse(happened));
    assert.deepEqual(detail.event.frames.map((f) => [f.function, f.lineno]), [['main', 1], ['checkout', 42]]);
    assert.deepEqual(detail.event.tags, { plan: 'gold' });
    assert.deepEqual(detail.payload.custom_field, { kept: true }, 'unknown fields are preserved');

    for (const q of ['cart is', 'typeerror', 'shop.test/cart', 'gold', 'buyer@']) {
      const { events } = await adminGet(w, `/api/1/events?query=${encodeURIComponent(q)}`);
      assert.ok(events.some((e) => e.event_id === id), `query ${q} finds the event`);
    }
    const { events: none } = await adminGet(w, '/api/1/events?query=no-such-thing-anywhere');
    assert.equal(none.length, 0);
    const { events: future } = await adminGet(w, `/api/1/events?since=${Date.now() + 60_000}`);
    assert.equal(future.length, 0, 'since filters by receive time');
  });

  test('X-Sentry-Auth header and gzip bodies are accepted', async () => {
    const id = randomId();
    const body = gzipSync(envelope({ message: 'gzipped hello' }, { event_id: id }));
    const r = await post(w, '/api/1/envelope/', body, {
      'x-sentry-auth': `Sentry sentry_version=7, sentry_client=test/1, sentry_key=${KEY}`,
      'content-encoding': 'gzip',
      'content-type': 'application/x-sentry-envelope',
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const [detail] = await waitStored(w, [id]) ?? [];
    assert.ok(detail, `event ${id} stored by the consumer`);
    assert.equal(detail.event.message, 'gzipped hello');
    assert.equal(detail.event.kind, 'message');
  });

  test('attachments are kept in R2, listed with their event and downloadable', async () => {
    const id = randomId();
    const event = Buffer.from(JSON.stringify({ message: 'with a log file' }));
    const file = Buffer.from('line 1\nline 2 <script>alert(1)</script>\n');
    const body = Buffer.concat([
      Buffer.from(`{"event_id":"${id}"}\n{"type":"event","length":${event.length}}\n`), event,
      Buffer.from(`\n{"type":"attachment","length":${file.length},"filename":"app.log","content_type":"text/html"}\n`), file,
      Buffer.from('\n{"type":"replay_recording","length":3}\nabc\n'),
    ]);
    const r = await post(w, `/api/1/envelope/?sentry_key=${KEY}`, body);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const [detail] = await waitStored(w, [id]) ?? [];
    assert.ok(detail, `event ${id} stored by the consumer`);
    assert.deepEqual(detail.event.attachments, [{ seq: 0, filename: 'app.log', content_type: 'text/html', size: file.length }]);
    const dl = await fetch(`${w.base}/api/1/events/${id}/attachments/0`, { headers: { Authorization: `Bearer ${DEV_ADMIN_TOKEN}` } });
    assert.equal(dl.status, 200);
    assert.equal(dl.headers.get('content-type'), 'application/octet-stream', 'never rendered as HTML');
    assert.match(dl.headers.get('content-disposition'), /attachment; filename="app.log"/);
    assert.deepEqual(Buffer.from(await dl.arrayBuffer()), file);
    const noAuth = await fetch(`${w.base}/api/1/events/${id}/attachments/0`);
    assert.equal(noAuth.status, 401);
    // The job's item counts are written just after its event.
    const { items } = await eventually(async () => {
      const st = await adminGet(w, '/api/1/stats');
      return st.items.attachment >= 1 && st.items.unsupported >= 1 ? st : null;
    }) ?? await adminGet(w, '/api/1/stats');
    assert.ok(items.attachment >= 1 && items.unsupported >= 1, JSON.stringify(items));
  });

  test('a large event is stored with its payload in R2 and read back', async () => {
    const id = randomId();
    const big = 'x'.repeat(200 * 1024);
    const r = await post(w, `/api/1/store/?sentry_key=${KEY}`, JSON.stringify({ event_id: id, message: 'big one', extra: { big } }));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const [detail] = await waitStored(w, [id]) ?? [];
    assert.ok(detail, `event ${id} stored by the consumer`);
    assert.equal(detail.payload.extra.big.length, big.length);
    assert.ok(detail.event.size > 200 * 1024);
  });

  test('missing key is 401, wrong key 403, conflicting keys 403, unknown project 404; all counted', async () => {
    const before = await totals(w);
    const body = envelope({ message: 'x' });
    const missing = await post(w, '/api/1/envelope/', body);
    assert.equal(missing.status, 401);
    assert.equal(missing.body.error, 'missing_auth');
    const wrong = await post(w, '/api/1/envelope/?sentry_key=ffffffffffffffffffffffffffffffff', body);
    assert.equal(wrong.status, 403);
    assert.equal(wrong.body.error, 'invalid_key');
    const conflicting = await post(w, `/api/1/envelope/?sentry_key=${KEY}`, body, { 'x-sentry-auth': 'Sentry sentry_key=abcdefabcdefabcdef' });
    assert.equal(conflicting.status, 403);
    assert.equal(conflicting.body.error, 'conflicting_auth');
    const unknown = await post(w, `/api/999/envelope/?sentry_key=${KEY}`, body);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error, 'unknown_project');
    const after = await totals(w);
    assert.equal(after.unauthorized - before.unauthorized, 3, 'the three requests to project 1 are counted');
  });

  test('oversized by Content-Length is refused with 413 naming limit and size', async () => {
    const before = await totals(w);
    const body = Buffer.alloc(2 * MIB, 'a');
    const r = await post(w, `/api/1/store/?sentry_key=${KEY}`, body);
    assert.equal(r.status, 413);
    assert.equal(r.body.error, 'too_large');
    assert.equal(r.body.limit, MIB);
    assert.equal(r.body.size, 2 * MIB);
    assert.match(r.body.detail, /limit is 1048576 bytes/);
    assert.equal((await totals(w)).too_large - before.too_large, 1);
  });

  test('oversized chunked body (no Content-Length) is cut at the limit', async () => {
    let sent = 0;
    const chunk = new Uint8Array(64 * 1024).fill(97);
    const stream = new ReadableStream({
      pull(controller) {
        if (sent >= 3 * MIB) { controller.close(); return; }
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const r = await post(w, `/api/1/store/?sentry_key=${KEY}`, stream);
    assert.equal(r.status, 413, JSON.stringify(r.body));
    assert.equal(r.body.limit, MIB);
    assert.equal(r.body.size, null, 'size is unknown: the stream was not read to its end');
  });

  test('a gzip bomb is stopped at the decompression limit', async () => {
    const bomb = gzipSync(Buffer.alloc(30 * MIB));
    assert.ok(bomb.length < 100 * 1024);
    const r = await post(w, `/api/1/envelope/?sentry_key=${KEY}`, bomb, { 'content-encoding': 'gzip' });
    assert.equal(r.status, 413, JSON.stringify(r.body));
    assert.match(r.body.detail, /decompressed body/);
    assert.equal(r.body.limit, 20 * MIB);
  });

  test('malformed input is a 400 with a reason, never a 500', async () => {
    const cases = [
      ['not json header', 'hello\n', 'invalid_envelope'],
      ['length past end', '{}\n{"type":"event","length":500}\n{}\n', 'invalid_envelope'],
      ['event not json', '{}\n{"type":"event"}\n{nope\n', 'invalid_json'],
      ['event not object', '{}\n{"type":"event"}\n[1,2]\n', 'invalid_event'],
      ['too deep', `{}\n{"type":"event"}\n${'['.repeat(100)}${']'.repeat(100)}\n`, 'too_deep'],
      ['empty', '', 'empty_body'],
    ];
    for (const [name, body, code] of cases) {
      const r = await post(w, `/api/1/envelope/?sentry_key=${KEY}`, body);
      assert.equal(r.status, 400, `${name}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error, code, name);
      assert.ok(r.body.detail, `${name} has a detail`);
    }
    const enc = await post(w, `/api/1/envelope/?sentry_key=${KEY}`, 'x', { 'content-encoding': 'zstd' });
    assert.equal(enc.status, 415);
    const badGzip = await post(w, `/api/1/envelope/?sentry_key=${KEY}`, 'not gzip at all', { 'content-encoding': 'gzip' });
    assert.equal(badGzip.status, 400);
    assert.equal(badGzip.body.error, 'invalid_compression');
  });

  test('CORS preflight is answered for ingest', async () => {
    const r = await fetch(`${w.base}/api/1/envelope/`, { method: 'OPTIONS', headers: { Origin: 'http://app.test', 'Access-Control-Request-Method': 'POST' } });
    assert.equal(r.status, 204);
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
    assert.match(r.headers.get('access-control-allow-headers'), /x-sentry-auth/);
    assert.match(r.headers.get('access-control-expose-headers'), /retry-after/);
  });

  test('the read API needs the admin token', async () => {
    const none = await fetch(`${w.base}/api/1/issues`);
    assert.equal(none.status, 401);
    const wrong = await fetch(`${w.base}/api/1/issues`, { headers: { Authorization: 'Bearer wrong-token-wrong-token' } });
    assert.equal(wrong.status, 403);
    const bad = await fetch(`${w.base}/api/1/events?limit=100000`, { headers: { Authorization: `Bearer ${DEV_ADMIN_TOKEN}` } });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error, 'invalid_param');
    const missing = await fetch(`${w.base}/api/1/events/${randomId()}`, { headers: { Authorization: `Bearer ${DEV_ADMIN_TOKEN}` } });
    assert.equal(missing.status, 404);
  });

  test('static assets: SDK, dashboard and demo page are served with types', async () => {
    const sdk = await fetch(`${w.base}/sdk/backstop.js`);
    assert.equal(sdk.status, 200);
    assert.match(sdk.headers.get('content-type'), /javascript/);
    assert.match(sdk.headers.get('cache-control') ?? '', /max-age/);
    const wasm = await fetch(`${w.base}/sdk/backstop_bg.wasm`);
    assert.equal(wasm.status, 200);
    assert.equal(wasm.headers.get('content-type'), 'application/wasm');
    for (const page of ['/', '/demo/']) {
      const r = await fetch(`${w.base}${page}`);
      assert.equal(r.status, 200, page);
      assert.match(r.headers.get('content-type'), /text\/html/, page);
    }
  });
});

describe('rate limiting', () => {
  let w;
  before(async () => {
    w = await startWorker({ vars: { BACKSTOP_PROJECTS: JSON.stringify({ 1: { public_key: KEY, rate_limit: { burst: 3, per_second: 0.05 } } }) } });
  });
  after(async () => { await w?.stop(); });

  test('a key over its burst gets 429 with Retry-After and X-Sentry-Rate-Limits', async () => {
    const statuses = [];
    let limited;
    for (let i = 0; i < 5; i++) {
      const r = await post(w, `/api/1/store/?sentry_key=${KEY}`, JSON.stringify({ message: `m${i}` }));
      statuses.push(r.status);
      if (r.status === 429) limited = r;
    }
    assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
    const retry = Number(limited.headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 20, `retry-after ${retry}`);
    assert.equal(limited.headers.get('x-sentry-rate-limits'), `${retry}::key`);
    assert.equal(limited.body.error, 'rate_limited');
    // `accepted` is counted by the queue consumer with each job; a 429 is counted at the edge.
    const t = (await waitJobs(w, 3)).totals;
    assert.equal(t.accepted, 3);
    assert.equal(t.rate_limited, 2);
  });
});

describe('production mode', () => {
  let w;
  before(async () => { w = await startWorker({ vars: { BACKSTOP_ENV: 'production' } }); });
  after(async () => { await w?.stop(); });

  test('refuses to serve the API with the local dev credentials', async () => {
    const r = await fetch(`${w.base}/api/1/issues`, { headers: { Authorization: `Bearer ${DEV_ADMIN_TOKEN}` } });
    assert.equal(r.status, 503);
    const body = await r.json();
    assert.equal(body.error, 'misconfigured');
    assert.doesNotMatch(body.detail, /local development admin token/, 'the reason is logged, never echoed');
    assert.ok(Number(r.headers.get('retry-after')) > 0, 'every 503 says when to retry');
    const ingest = await post(w, `/api/1/envelope/?sentry_key=${KEY}`, envelope({ message: 'x' }));
    assert.equal(ingest.status, 503);
    assert.ok(Number(ingest.headers.get('retry-after')) > 0);
  });
});
