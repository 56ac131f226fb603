// Webhook guard end-to-end: the real worker (wrangler dev / workerd, local D1, R2, Durable Object
// alarms) in front of a real nginx (Debian's, started here on loopback ports with a low
// client_max_body_size) proxying to a tiny recorder app. Alerts go to a local sink.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { startWorker, adminGet, eventually } from './lib/harness.mjs';
import { startNginx, haveNginx } from './lib/nginx.mjs';
import { startOriginApp, startAlertSink } from './lib/origin-app.mjs';
import { launchBrowser, watchPage, waitFor } from './lib/browser.mjs';
import { freePort, ROOT } from './lib/harness.mjs';
import { connect } from 'node:net';
import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';

const MIB = 1024 * 1024;
const sha256 = (b) => createHash('sha256').update(b).digest('hex');

/** A SendGrid-style inbound-parse body: fields first, then an attachment of `attachmentBytes`. */
function inboundParse(from, attachmentBytes) {
  const boundary = `xYzZY${randomBytes(6).toString('hex')}`;
  const field = (name, value) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  const head = Buffer.from(
    field('headers', `Received: by mx.sendgrid.net\nFrom: ${from}\nTo: support@shop.test\nSubject: Invoice\n`)
    + field('dkim', '{@example.com : pass}')
    + field('to', 'support@shop.test')
    + field('from', from)
    + field('subject', 'Invoice attached')
    + field('envelope', JSON.stringify({ to: ['support@shop.test'], from: from.replace(/.*</, '').replace(/>.*/, '') }))
    + field('text', 'Please find the invoice attached.')
    + `--${boundary}\r\nContent-Disposition: form-data; name="attachment1"; filename="invoice.pdf"\r\nContent-Type: application/pdf\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const body = Buffer.concat([head, randomBytes(attachmentBytes), tail]);
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}

async function post(url, body, headers = {}) {
  const r = await fetch(url, { method: 'POST', body, headers, duplex: 'half' });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: r.status, headers: r.headers, body: json };
}

const deliveries = async (w, params = '') => (await adminGet(w, `/api/webhooks/deliveries?${params}`)).deliveries;
const detail = (w, id) => adminGet(w, `/api/webhooks/deliveries/${id}`);

async function replay(w, id, force = false) {
  const r = await fetch(`${w.base}/api/webhooks/deliveries/${id}/replay${force ? '?force=1' : ''}`, {
    method: 'POST', headers: { Authorization: `Bearer ${w.adminToken}` },
  });
  assert.equal(r.headers.get('access-control-allow-origin'), '*');
  return { status: r.status, body: await r.json() };
}

// nginx is installed by `cargo xtask setup`; without it the suite fails rather than skipping.
test('nginx is installed', () => {
  assert.ok(haveNginx(), 'nginx is not installed: run cargo xtask setup (apt-get install nginx)');
});

describe('webhook guard', () => {
  let app; let nginx; let flakyNginx; let sink; let w; let deadPort;

  before(async () => {
    app = await startOriginApp();
    // One nginx for most routes: 1m by default, 20m under /email/ (the story's nginx).
    nginx = await startNginx({ upstreamPort: app.port, maxBodySize: '1m', locations: { '/email/': '20m' } });
    // A second nginx that the "origin down" test stops and starts again.
    flakyNginx = await startNginx({ upstreamPort: app.port, maxBodySize: '1m' });
    sink = await startAlertSink();
    deadPort = await freePort();
    const routes = [
      { name: 'email', prefix: '/email/receive/', origin: nginx.base, body_limit: '20m', timeout_ms: 10000, retry_schedule: [60] },
      { name: 'small', prefix: '/small/', origin: nginx.base, body_limit: '1m', timeout_ms: 5000 },
      { name: 'unknown', prefix: '/unknown/', origin: nginx.base, timeout_ms: 5000 },
      { name: 'slow', prefix: '/slow/', origin: nginx.base, timeout_ms: 1500, retry_schedule: ['1h'] },
      { name: 'flaky', prefix: '/flaky/', origin: flakyNginx.base, timeout_ms: 3000, retry_schedule: [1, 2, 2, 2, 2, 2, 2, 2] },
      { name: 'exhaust', prefix: '/exhaust/', origin: nginx.base, timeout_ms: 3000, retry_schedule: [1, 1] },
      { name: 'ask', prefix: '/ask/', origin: nginx.base, timeout_ms: 3000, hold_response: { status: 503, retry_after_secs: 30 } },
      { name: 'capped', prefix: '/capped/', origin: `http://127.0.0.1:${app.port}`, max_body: '2m', timeout_ms: 10000 },
      { name: 'sinkdown', prefix: '/sinkdown/', origin: nginx.base, body_limit: 16 },
      { name: 'loopstart', prefix: '/loopstart/', origin: nginx.base, body_limit: 16 },
      { name: 'loopin', prefix: '/loop-in/', origin: `http://127.0.0.1:${deadPort}`, timeout_ms: 1000, retry_schedule: [1] },
    ];
    w = await startWorker({
      vars: {
        BACKSTOP_WEBHOOK_ROUTES: JSON.stringify(routes),
        BACKSTOP_ALERT_WEBHOOK_URL: sink.url,
        BACKSTOP_ALERT_WINDOW_SECS: '3600',
      },
    });
  });

  after(async () => {
    await w?.stop();
    await nginx?.cleanup();
    await flakyNginx?.cleanup();
    await app?.close();
    await sink?.close();
  });

  test('unknown paths are not proxied', async () => {
    const r = await post(`${w.base}/not-guarded/hook`, 'x');
    assert.equal(r.status, 404);
    assert.equal(r.body.error, 'not_found');
    const near = await post(`${w.base}/smallish/hook`, 'x');
    assert.equal(near.status, 404, 'prefixes match whole segments');
    assert.equal(app.requests.length, 0, 'nothing reached the origin');
  });

  test('a small payload passes through unchanged (bytes and headers), and is recorded as delivered', async () => {
    const body = randomBytes(10_000);
    const headers = {
      'content-type': 'application/octet-stream',
      'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
      'stripe-signature': 't=1,v1=abc',
      'x-custom-header': 'kept as is',
    };
    const r = await fetch(`${w.base}/small/hook?event=paid&n=1`, { method: 'POST', body, headers });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-origin-app'), 'recorder', 'the origin response comes back');
    const answer = await r.json();
    assert.equal(answer.sha256, sha256(body));
    const got = app.received((q) => q.url.startsWith('/small/hook'));
    assert.equal(got.length, 1);
    const [rec] = got;
    assert.equal(rec.method, 'POST');
    assert.equal(rec.url, '/small/hook?event=paid&n=1');
    assert.equal(rec.size, body.length);
    assert.ok(rec.body.equals(body), 'bytes identical');
    for (const [k, v] of Object.entries(headers)) assert.equal(rec.headers[k], v, k);
    assert.equal(rec.headers['content-length'], String(body.length));
    assert.match(rec.headers['x-backstop-delivery-id'], /^wh_[0-9a-f]{28}$/);
    assert.equal(rec.headers['x-backstop-attempt'], '1');
    const id = r.headers.get('x-backstop-delivery-id');
    assert.equal(id, rec.headers['x-backstop-delivery-id']);
    const row = await eventually(async () => (await deliveries(w, 'status=delivered&route=small')).find((d) => d.id === id));
    assert.ok(row, 'recorded as delivered');
    assert.equal(row.payload_kept, false, 'a delivered payload is not kept');
    assert.equal(row.size, body.length);
  });

  test('a payload over the origin limit is held without being forwarded and listed with its sender hint', async () => {
    const { body, contentType } = inboundParse('Alice Example <alice@example.com>', 2 * MIB);
    const before = app.requests.length;
    const r = await post(`${w.base}/small/inbound`, body, { 'content-type': contentType });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.equal(r.body.status, 'held');
    assert.equal(r.body.reason, 'oversize');
    const id = r.body.delivery_id;
    assert.equal(r.headers.get('x-backstop-delivery-id'), id);
    assert.equal(app.requests.length, before, 'never forwarded');
    const [row] = (await deliveries(w, 'status=held&query=alice@example')).filter((d) => d.id === id);
    assert.ok(row, 'found by sender');
    assert.equal(row.reason, 'oversize');
    assert.equal(row.size, body.length);
    assert.equal(row.limit_bytes, MIB);
    assert.equal(row.payload_kept, true);
    assert.equal(row.next_attempt_at, null, 'an oversize hold is not retried blindly');
    assert.match(row.sender, /alice@example\.com/);
    const d = await detail(w, id);
    assert.equal(d.route.body_limit, MIB);
    const payload = await fetch(`${w.base}/api/webhooks/deliveries/${id}/payload`, { headers: { Authorization: `Bearer ${w.adminToken}` } });
    assert.equal(payload.status, 200);
    assert.equal(payload.headers.get('content-type'), 'application/octet-stream');
    assert.equal(sha256(Buffer.from(await payload.arrayBuffer())), sha256(body), 'payload kept byte for byte');
    const anon = await fetch(`${w.base}/api/webhooks/deliveries/${id}/payload`);
    assert.equal(anon.status, 401, 'payload download needs the admin token');
    // The cron sweep leaves a size hold alone while the route's limit is unchanged.
    const cron = await fetch(`${w.base}/cdn-cgi/local/scheduled`);
    assert.equal(cron.status, 200);
    await new Promise((res) => setTimeout(res, 1000));
    const still = await detail(w, id);
    assert.equal(still.delivery.status, 'held');
    assert.equal(still.attempts.length, 0, 'not retried blindly');
  });

  test('the origin answering 413 itself (limit unknown to the config) holds the payload', async () => {
    const body = randomBytes(2 * MIB);
    const r = await post(`${w.base}/unknown/hook`, body, { 'content-type': 'application/json' });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.equal(r.body.reason, 'origin_too_large');
    const d = await detail(w, r.body.delivery_id);
    assert.equal(d.delivery.status, 'held');
    assert.equal(d.delivery.origin_status, 413);
    assert.equal(d.delivery.origin_error, '413 Request Entity Too Large');
    assert.equal(d.delivery.size, body.length);
    assert.equal(d.delivery.next_attempt_at, null);
    assert.equal(d.attempts.length, 1);
    assert.equal(d.attempts[0].origin_status, 413);
    assert.match(nginx.errorLog(), /client intended to send too large body/);
  });

  test('a chunked body (no Content-Length) is kept in parts and held when the origin refuses it', async () => {
    const body = randomBytes(12 * MIB);
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < body.length; i += 256 * 1024) controller.enqueue(body.subarray(i, i + 256 * 1024));
        controller.close();
      },
    });
    const r = await post(`${w.base}/unknown/chunked`, stream, { 'content-type': 'application/octet-stream' });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.equal(r.body.reason, 'origin_too_large');
    const d = await detail(w, r.body.delivery_id);
    assert.equal(d.delivery.size, body.length);
    const payload = await fetch(`${w.base}/api/webhooks/deliveries/${r.body.delivery_id}/payload`, { headers: { Authorization: `Bearer ${w.adminToken}` } });
    assert.equal(sha256(Buffer.from(await payload.arrayBuffer())), sha256(body), 'kept byte for byte');
  });

  test('a chunked body past max_body is refused, and the origin behind it never receives it whole', async () => {
    // The origin here takes anything: only the guard's own bound stands between it and the body.
    const total = 8 * MIB;
    let sent = 0;
    const stream = new ReadableStream({
      pull(controller) {
        if (sent >= total) { controller.close(); return; }
        controller.enqueue(randomBytes(256 * 1024));
        sent += 256 * 1024;
      },
    });
    const before = app.requests.length;
    let r;
    try {
      r = await post(`${w.base}/capped/big`, stream, { 'content-type': 'application/octet-stream' });
    } catch (e) {
      // The guard may answer before the sender finishes and close the upload; the answer is
      // still what the delivery list must show.
      r = null;
    }
    if (r) {
      assert.equal(r.status, 413, JSON.stringify(r.body));
      assert.equal(r.body.error, 'too_large');
      assert.equal(r.body.limit, 2 * MIB);
    }
    const refused = await eventually(async () => (await deliveries(w, 'route=capped')).find((d) => d.status === 'refused'), 10_000);
    assert.ok(refused, 'the refusal is listed');
    assert.equal(refused.limit_bytes, 2 * MIB);
    await new Promise((res) => setTimeout(res, 500));
    const whole = app.requests.slice(before).filter((q) => q.url.startsWith('/capped/'));
    assert.deepEqual(whole.map((q) => q.size), [], 'the origin never saw a complete body');

    // Under max_body, the same chunked upload reaches the origin whole, with its length.
    const body = randomBytes(MIB + 7);
    const small = new ReadableStream({
      start(controller) {
        for (let i = 0; i < body.length; i += 64 * 1024) controller.enqueue(body.subarray(i, i + 64 * 1024));
        controller.close();
      },
    });
    const ok = await post(`${w.base}/capped/small`, small, { 'content-type': 'application/octet-stream' });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const [got] = app.received((q) => q.url === '/capped/small');
    assert.equal(got.size, body.length);
    assert.equal(got.sha256, sha256(body));
    assert.equal(got.headers['content-length'], String(body.length), 'sent with its length');
    assert.equal(got.headers['transfer-encoding'], undefined);
    const passed = await eventually(async () => (await deliveries(w, 'route=capped')).find((d) => d.status === 'delivered'), 10_000);
    assert.equal(passed.size, body.length);
  });

  test('origin down: held, retried, delivered once it comes back', async () => {
    await flakyNginx.stop();
    const body = Buffer.from(JSON.stringify({ from: 'billing@vendor.example', amount: 42 }));
    const r = await post(`${w.base}/flaky/invoice`, body, { 'content-type': 'application/json' });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.equal(r.body.reason, 'unreachable');
    const id = r.body.delivery_id;
    let d = await detail(w, id);
    assert.equal(d.delivery.status, 'failed');
    assert.equal(d.delivery.sender, 'billing@vendor.example');
    assert.ok(d.delivery.next_attempt_at > d.delivery.received_at);
    // At least one retry fails while the origin is still down.
    assert.ok(await eventually(async () => (await detail(w, id)).delivery.attempts >= 2, 15_000), 'a retry while down');
    assert.equal((await detail(w, id)).delivery.status, 'failed', 'still retrying');
    await flakyNginx.start();
    d = await eventually(async () => {
      const x = await detail(w, id);
      return x.delivery.status === 'delivered' ? x : null;
    }, 20_000);
    assert.ok(d, 'delivered after the origin came back');
    const got = app.received((q) => q.headers['x-backstop-delivery-id'] === id);
    assert.equal(got.length, 1, 'delivered exactly once');
    assert.equal(got[0].sha256, sha256(body));
    assert.ok(Number(got[0].headers['x-backstop-attempt']) >= 3);
    assert.equal(got[0].headers['x-backstop-replay'], undefined, 'a retry is not a replay');
    assert.ok(d.attempts.some((a) => a.kind === 'retry' && a.error.startsWith('unreachable')));
  });

  test('origin slow: timeout, held', async () => {
    app.behave('/slow/', { delayMs: 4000 });
    const started = Date.now();
    const r = await post(`${w.base}/slow/hook`, Buffer.from('{"sender":"slow@example.org"}'), { 'content-type': 'application/json' });
    const took = Date.now() - started;
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.equal(r.body.reason, 'timeout');
    assert.ok(took < 3500, `answered after the 1.5 s timeout, not the origin's 4 s (took ${took} ms)`);
    const d = await detail(w, r.body.delivery_id);
    assert.equal(d.delivery.status, 'failed');
    assert.equal(d.delivery.origin_error, 'no response within 1500 ms');
  });

  test('after the last retry the delivery is exhausted and alerted once', async () => {
    app.behave('/exhaust/', { status: 503, body: 'maintenance' });
    const r = await post(`${w.base}/exhaust/hook`, Buffer.from('{"email":"ops@example.com"}'), { 'content-type': 'application/json' });
    assert.equal(r.status, 202);
    const id = r.body.delivery_id;
    const d = await eventually(async () => {
      const x = await detail(w, id);
      return x.delivery.status === 'exhausted' ? x : null;
    }, 15_000);
    assert.ok(d, 'exhausted');
    assert.equal(d.delivery.attempts, 3, 'first forward + 2 retries');
    const alerts = await eventually(async () => {
      const { alerts } = await adminGet(w, '/api/webhooks/alerts');
      const mine = alerts.filter((a) => a.delivery_id === id);
      return mine.some((a) => a.kind === 'exhausted' && a.status === 'sent') ? mine : null;
    });
    assert.ok(alerts, 'exhaustion alert sent');
    assert.ok(sink.alerts.some((a) => a.body.backstop?.kind === 'exhausted' && a.body.backstop.delivery_id === id));
  });

  test('a route whose senders retry answers 503 with Retry-After and does not retry itself', async () => {
    app.behave('/ask/', { status: 500 });
    const r = await post(`${w.base}/ask/hook`, Buffer.from('x'), { 'content-type': 'text/plain' });
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('retry-after'), '30');
    assert.equal(r.body.status, 'held');
    const d = await detail(w, r.body.delivery_id);
    assert.equal(d.delivery.status, 'held');
    assert.equal(d.delivery.next_attempt_at, null);
  });

  test('alert sink down: one recorded failure, no recursion', async () => {
    sink.set({ mode: 'fail' });
    const before = sink.alerts.length;
    const r1 = await post(`${w.base}/sinkdown/a`, Buffer.from('{"from":"a@example.com","pad":"xxxxxxxx"}'), { 'content-type': 'application/json' });
    const r2 = await post(`${w.base}/sinkdown/b`, Buffer.from('{"from":"b@example.com","pad":"xxxxxxxx"}'), { 'content-type': 'application/json' });
    assert.equal(r1.status, 202);
    assert.equal(r2.status, 202);
    const failed = await eventually(async () => {
      const { alerts } = await adminGet(w, '/api/webhooks/alerts');
      const mine = alerts.filter((a) => a.route === 'sinkdown');
      return mine.length && mine.every((a) => a.status !== 'pending') ? mine : null;
    });
    await new Promise((res) => setTimeout(res, 2000));
    const { alerts } = await adminGet(w, '/api/webhooks/alerts');
    const mine = alerts.filter((a) => a.route === 'sinkdown');
    assert.equal(mine.length, 1, `one alert for the route's window: ${JSON.stringify(alerts)}`);
    assert.equal(mine[0].status, 'failed');
    assert.equal(mine[0].sink_status, 500);
    assert.ok(failed);
    assert.equal(sink.alerts.length - before, 1, 'the sink was called once');
    const stats = await adminGet(w, '/api/webhooks/stats');
    assert.equal(stats.routes.sinkdown.webhook_alert_failed, 1);
    assert.equal(stats.routes.sinkdown.webhook_held_oversize, 2);
    sink.set({ mode: 'ok' });
  });

  test('an alert URL that leads back into the guard cannot loop', async () => {
    // The alert sink forwards every alert, headers included, to a guarded route of this very
    // worker whose origin is down: without the guard's loop refusal each alert would become a
    // held delivery, which would alert again.
    sink.set({ mode: 'relay', relayTo: `${w.base}/loop-in/alerts` });
    const before = sink.alerts.length;
    const r = await post(`${w.base}/loopstart/x`, Buffer.from('{"from":"loop@example.com","pad":"xxxxxxxx"}'), { 'content-type': 'application/json' });
    assert.equal(r.status, 202);
    const alert = await eventually(async () => {
      const { alerts } = await adminGet(w, '/api/webhooks/alerts');
      return alerts.find((a) => a.route === 'loopstart' && a.status !== 'pending');
    });
    assert.equal(alert.status, 'failed');
    assert.equal(alert.sink_status, 508, 'the guard refused the alert as a loop');
    await new Promise((res) => setTimeout(res, 3000));
    const { alerts } = await adminGet(w, '/api/webhooks/alerts');
    assert.deepEqual(alerts.filter((a) => a.route === 'loopin'), [], 'no alert about the alert');
    assert.deepEqual(await deliveries(w, 'route=loopin'), [], 'the alert was never held');
    assert.equal(sink.alerts.length - before, 1, 'exactly one alert went out');
    const stats = await adminGet(w, '/api/webhooks/stats');
    assert.equal(stats.routes.loopin.webhook_loop_refused, 1);
    sink.set({ mode: 'ok', relayTo: null });
  });

  test('the 21 MB story: held, on the dashboard within seconds, alerted, replayed byte-identical once nginx allows it', async () => {
    const { body, contentType } = inboundParse('Bob Sender <bob@supplier.example>', 21 * MIB);
    const digest = sha256(body);
    const before = app.requests.length;
    const received = Date.now();
    const r = await post(`${w.base}/email/receive/?key=abc`, body, {
      'content-type': contentType,
      'user-agent': 'Sendlib/1.0',
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const id = r.body.delivery_id;
    assert.equal(app.requests.length, before, 'nginx (20m) would have answered 413; it was never sent');

    // Visible on the dashboard within seconds, with the sender and size vs limit.
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      const log = watchPage(page);
      await page.goto(`${w.base}/webhooks/#token=${w.adminToken}`);
      const row = page.locator(`tr[data-delivery-id="${id}"]`);
      await waitFor(async () => (await row.count()) === 1, { timeout: 10_000, what: `delivery ${id} on the dashboard\n${log.describe()}` });
      const text = await row.innerText();
      assert.match(text, /bob@supplier\.example/);
      assert.match(text, /21\.0 MiB \/ 20\.0 MiB/, 'size vs limit');
      assert.match(text, /Held/);
      assert.ok(Date.now() - received < 15_000, 'on the dashboard within seconds');

      // Alerted (first hold of the route in this window).
      const alert = await eventually(() => sink.alerts.find((a) => a.body.backstop?.delivery_id === id));
      assert.ok(alert, 'alert sent');
      assert.equal(alert.headers['x-backstop-alert'], '1');
      assert.match(alert.body.text, /route `email` from Bob Sender <bob@supplier\.example>/);
      assert.match(alert.body.text, /21\.0 MiB is over the origin's limit of 20\.0 MiB/);
      assert.ok(alert.body.text.includes(`/webhooks/#delivery=${id}`), 'the alert links to the dashboard');

      // Replay while nginx still allows only 20m: refused again, still held.
      const rp = await replay(w, id);
      assert.equal(rp.status, 200, JSON.stringify(rp.body));
      assert.equal(rp.body.result, 'not_delivered');
      assert.equal(rp.body.origin_status, 413);
      assert.equal(rp.body.delivery.status, 'held');

      // Raise nginx's limit, press Replay on the dashboard: delivered.
      await nginx.reload({ locations: { '/email/': '25m' } });
      await row.locator('button[data-action="replay"]').click();
      await waitFor(async () => /Delivered: the origin accepted/.test(await page.locator('#notice').innerText()),
        { timeout: 20_000, what: `the replay notice\n${log.describe()}` });
      await waitFor(async () => (await page.locator(`tr[data-delivery-id="${id}"]`).count()) === 0,
        { what: 'the delivered row to leave the held list' });
      assert.deepEqual(log.pageErrors, []);
    } finally {
      await browser.close();
    }
    const after = await detail(w, id);
    assert.equal(after.delivery.status, 'delivered');
    const got = app.received((q) => q.headers['x-backstop-delivery-id'] === id);
    assert.equal(got.length, 1);
    assert.equal(got[0].url, '/email/receive/?key=abc');
    assert.equal(got[0].size, body.length);
    assert.equal(got[0].sha256, digest, 'byte-identical');
    assert.equal(got[0].headers['content-type'], contentType);
    assert.equal(got[0].headers['user-agent'], 'Sendlib/1.0');
    assert.equal(got[0].headers['x-backstop-replay'], '2');

    // A second replay does not deliver again.
    const again = await replay(w, id);
    assert.equal(again.body.result, 'already_delivered');
    assert.equal(app.received((q) => q.headers['x-backstop-delivery-id'] === id).length, 1, 'exactly once');
    // Forced, it is sent again (and stays delivered).
    const forced = await replay(w, id, true);
    assert.equal(forced.body.result, 'delivered');
    const both = app.received((q) => q.headers['x-backstop-delivery-id'] === id);
    assert.equal(both.length, 2);
    assert.equal(both[1].headers['x-backstop-replay'], '3');
    assert.equal(both[1].sha256, digest);
    const stats = await adminGet(w, '/api/webhooks/stats');
    assert.equal(stats.routes.email.webhook_held_oversize, 1);
    assert.equal(stats.routes.email.webhook_delivered, 1);
  });
});

describe('webhook guard: raising a route limit', () => {
  let app; let nginx; let w;
  before(async () => {
    app = await startOriginApp();
    nginx = await startNginx({ upstreamPort: app.port, maxBodySize: '8m' });
  });
  after(async () => {
    await w?.stop();
    await nginx?.cleanup();
    await app?.close();
  });

  const routes = (limit) => JSON.stringify([
    { name: 'grow', prefix: '/grow/', origin: nginx.base, body_limit: limit, timeout_ms: 5000 },
  ]);

  test('a size hold is not retried blindly, and is delivered by the sweep once the limit is raised', async () => {
    w = await startWorker({ vars: { BACKSTOP_WEBHOOK_ROUTES: routes('1m') } });
    const { body, contentType } = inboundParse('Grace <grace@example.com>', 2 * MIB);
    const r = await post(`${w.base}/grow/inbound`, body, { 'content-type': contentType });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.equal(r.body.reason, 'oversize');
    const id = r.body.delivery_id;
    // Same limit: the sweep leaves it alone.
    assert.equal((await fetch(`${w.base}/cdn-cgi/local/scheduled`)).status, 200);
    await new Promise((res) => setTimeout(res, 1500));
    assert.equal((await detail(w, id)).delivery.status, 'held');
    assert.equal(app.received((q) => q.headers['x-backstop-delivery-id'] === id).length, 0);

    // The operator raises the route's limit (new vars, same state) and the sweep delivers it.
    await w.stop({ keepState: true });
    w = await startWorker({ vars: { BACKSTOP_WEBHOOK_ROUTES: routes('5m') }, persist: w.persist });
    assert.equal((await fetch(`${w.base}/cdn-cgi/local/scheduled`)).status, 200);
    const d = await eventually(async () => {
      const x = await detail(w, id);
      return x.delivery.status === 'delivered' ? x : null;
    }, 20_000);
    assert.ok(d, `delivered after the limit was raised: ${JSON.stringify((await detail(w, id)).delivery)}`);
    const got = app.received((q) => q.headers['x-backstop-delivery-id'] === id);
    assert.equal(got.length, 1, 'delivered exactly once');
    assert.equal(got[0].sha256, sha256(body), 'byte-identical');
  });
});

/**
 * A request written by hand on a socket, for what fetch refuses to send (a `Content-Length`
 * that does not match the body). Resolves with the status and the answer's body once the
 * answer is complete (or the server closes).
 */
function rawRequest(port, head, body) {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer: ${data}`)); }, 15_000);
    const finish = () => {
      const text = data.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return false;
      const headers = text.slice(0, end);
      let rest = text.slice(end + 4);
      const len = /\r\ncontent-length:\s*(\d+)/i.exec(headers);
      if (len && rest.length < Number(len[1])) return false;
      if (!len && /transfer-encoding:\s*chunked/i.test(headers)) {
        if (!rest.includes('0\r\n\r\n')) return false;
        // Good enough for a short JSON answer: drop the chunk-size lines.
        rest = rest.split('\r\n').filter((_, i) => i % 2 === 1).join('');
      }
      clearTimeout(timer);
      socket.destroy();
      resolve({ status: Number(headers.split(' ')[1]), body: rest });
      return true;
    };
    socket.on('data', (d) => { data = Buffer.concat([data, d]); finish(); });
    socket.on('error', (e) => { if (!finish()) { clearTimeout(timer); reject(e); } });
    socket.on('close', () => { if (!finish()) { clearTimeout(timer); reject(new Error(`closed: ${data}`)); } });
    socket.write(head);
    socket.write(body);
  });
}

/** Runs SQL on a stopped worker's local D1 (its `persist` directory). */
function d1Execute(persist, sql) {
  const r = spawnSync(join(ROOT, 'node_modules', '.bin', 'wrangler'),
    ['d1', 'execute', 'DB', '--local', '--persist-to', persist, '--command', sql], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, CI: 'true', WRANGLER_SEND_METRICS: 'false', PATH: `${dirname(process.execPath)}:${process.env.PATH}` },
    });
  if (r.status !== 0) throw new Error(`d1 execute failed: ${r.stdout}\n${r.stderr}`);
}

describe('webhook guard: storage edges', () => {
  let app; let nginx; let w;
  const routes = (raiseLimit) => JSON.stringify([
    { name: 'parts', prefix: '/parts/', origin: nginx.base, timeout_ms: 20000 },
    { name: 'small', prefix: '/small/', origin: nginx.base, body_limit: '1m' },
    { name: 'stuck', prefix: '/stuck/', origin: nginx.base, body_limit: 16 },
    { name: 'late', prefix: '/late/', origin: nginx.base, timeout_ms: 3000, retry_schedule: ['1h'] },
    { name: 'raise', prefix: '/raise/', origin: nginx.base, body_limit: raiseLimit },
  ]);

  before(async () => {
    app = await startOriginApp();
    nginx = await startNginx({ upstreamPort: app.port, maxBodySize: '1m' });
    w = await startWorker({ vars: { BACKSTOP_WEBHOOK_ROUTES: routes(16) } });
  });
  after(async () => {
    await w?.stop();
    await nginx?.cleanup();
    await app?.close();
  });

  test('a chunked body in odd chunks is kept in equal parts and replayed byte-identical', async () => {
    // 16 MB in chunks of 100,003 bytes: parts cut at "5 MiB or more pending" differ in size,
    // which R2 refuses when the upload completes.
    const body = randomBytes(16_000_000);
    const chunk = 100_003;
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < body.length; i += chunk) controller.enqueue(body.subarray(i, i + chunk));
        controller.close();
      },
    });
    const r = await post(`${w.base}/parts/chunked?odd=1`, stream, { 'content-type': 'application/octet-stream' });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.equal(r.body.reason, 'origin_too_large', 'nginx (1m) refused it');
    const id = r.body.delivery_id;
    const d = await detail(w, id);
    assert.equal(d.delivery.size, body.length);
    assert.equal(d.delivery.payload_kept, true);

    await nginx.reload({ maxBodySize: '20m' });
    const rp = await replay(w, id);
    assert.equal(rp.status, 200, JSON.stringify(rp.body));
    assert.equal(rp.body.result, 'delivered', JSON.stringify(rp.body));
    const got = app.received((q) => q.headers['x-backstop-delivery-id'] === id && q.headers['x-backstop-replay']);
    assert.equal(got.length, 1);
    assert.equal(got[0].url, '/parts/chunked?odd=1');
    assert.equal(got[0].size, body.length);
    assert.equal(got[0].sha256, sha256(body), 'byte-identical');
    await nginx.reload({ maxBodySize: '1m' });
  });

  test('a hostile Content-Length is refused and its row never breaks the listing', async () => {
    const huge = '1152921504606846976'; // 2^60: not exact as a JavaScript number
    const r = await rawRequest(w.port,
      `POST /small/hostile HTTP/1.1\r\nHost: 127.0.0.1:${w.port}\r\nContent-Type: application/json\r\n`
      + `Content-Length: ${huge}\r\nConnection: close\r\n\r\n`, 'abc');
    assert.equal(r.status, 413, r.body);
    assert.equal(JSON.parse(r.body).error, 'too_large');
    const res = await fetch(`${w.base}/api/webhooks/deliveries`, { headers: { Authorization: `Bearer ${w.adminToken}` } });
    const list = await res.json();
    assert.equal(res.status, 200, JSON.stringify(list));
    const row = list.deliveries.find((x) => x.route === 'small' && x.path === '/small/hostile');
    assert.ok(row, `the refusal is listed: ${JSON.stringify(list)}`);
    assert.equal(row.status, 'refused');
    assert.equal(row.size, Number.MAX_SAFE_INTEGER, 'stored saturated below 2^53');
    assert.equal((await detail(w, row.id)).delivery.size, Number.MAX_SAFE_INTEGER);
    const refused = await deliveries(w, 'status=refused');
    assert.ok(refused.some((x) => x.id === row.id));
  });

  test('the sweep finds what it can retry behind more than a batch of holds that wait for a person', async () => {
    // A retry whose alarm is lost (its schedule says in 1 h; the row will say 2 min ago) ...
    app.behave('/late/', { status: 503 });
    const late = await post(`${w.base}/late/hook`, Buffer.from('{"from":"late@example.com"}'), { 'content-type': 'application/json' });
    assert.equal(late.status, 202, JSON.stringify(late.body));
    assert.equal((await detail(w, late.body.delivery_id)).delivery.status, 'failed');
    app.behave('/late/', { status: 200 });
    // ... and a size hold that a raised limit will unblock.
    const raise = await post(`${w.base}/raise/hook`, Buffer.from('{"from":"raise@example.com","pad":"xxxxxxxxxxxxxxxx"}'), { 'content-type': 'application/json' });
    assert.equal(raise.status, 202, JSON.stringify(raise.body));
    assert.equal(raise.body.reason, 'oversize');

    // Seeded while the worker is stopped (through the real path 250 holds would take minutes):
    // 250 older size holds whose limit is unchanged (not eligible), more than one sweep batch;
    // and rows with numbers that do not read as u64 (as an older version could store them).
    await w.stop({ keepState: true });
    const now = Date.now();
    const cols = `id, route, method, path, received_at, size, content_type, headers, sender, status, reason,
      limit_bytes, origin_status, origin_error, attempts, replays, next_attempt_at, last_attempt_at, delivered_at,
      payload_key, updated_at`;
    d1Execute(w.persist, `
      WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 250)
      INSERT INTO webhook_deliveries (${cols})
      SELECT 'wh_' || printf('%028d', i), 'stuck', 'POST', '/stuck/x', ${now - 86_400_000} + i, 100, 'application/json',
        '[]', '', 'held', 'oversize', 16, NULL, '', 0, 0, NULL, NULL, NULL, 'webhooks/wh_' || printf('%028d', i), ${now}
      FROM c;
      UPDATE webhook_deliveries SET next_attempt_at = ${now - 120_000} WHERE id = '${late.body.delivery_id}';
      INSERT INTO webhook_deliveries (${cols}) VALUES
        ('wh_ffffffffffff000000000000000a', 'small', 'POST', '/small/float', ${now + 1000}, 1.152921504606847e18,
         'text/plain', '[]', '', 'refused', NULL, 2.5, NULL, '', 0, 0, NULL, NULL, NULL, NULL, ${now}),
        ('wh_ffffffffffff000000000000000b', 'small', 'POST', '/small/text', ${now + 1000}, 'lots',
         'text/plain', '[]', '', 'refused', NULL, NULL, NULL, '', 0, 0, NULL, NULL, NULL, NULL, ${now});`);
    w = await startWorker({ vars: { BACKSTOP_WEBHOOK_ROUTES: routes('1m') }, persist: w.persist });

    assert.equal((await fetch(`${w.base}/cdn-cgi/local/scheduled`)).status, 200);
    const delivered = async (id) => (await detail(w, id)).delivery.status === 'delivered';
    assert.ok(await eventually(() => delivered(late.body.delivery_id), 20_000),
      `the overdue retry was picked up: ${JSON.stringify((await detail(w, late.body.delivery_id)).delivery)}`);
    assert.ok(await eventually(() => delivered(raise.body.delivery_id), 20_000),
      `the unblocked hold was picked up: ${JSON.stringify((await detail(w, raise.body.delivery_id)).delivery)}`);
    const sent = (id) => app.received((q) => q.headers['x-backstop-delivery-id'] === id).length;
    assert.equal(sent(late.body.delivery_id), 2, 'the first forward (503), then the one retry');
    assert.equal(sent(raise.body.delivery_id), 1, 'never forwarded before; delivered once');
    const stuck = await deliveries(w, 'route=stuck&limit=500');
    assert.equal(stuck.length, 250);
    assert.ok(stuck.every((x) => x.status === 'held' && x.attempts === 0), 'holds that wait for a person are left alone');

    // The listing reads odd rows leniently and leaves out one that does not read at all.
    const all = await deliveries(w, 'route=small');
    const float = all.find((x) => x.path === '/small/float');
    assert.ok(float, `a float size still lists: ${JSON.stringify(all)}`);
    assert.equal(float.size, 1152921504606846976);
    assert.equal(float.limit_bytes, 2);
    assert.ok(!all.some((x) => x.path === '/small/text'), 'a row that does not read is left out, not fatal');
  });
});
