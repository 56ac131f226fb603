// The silence watchdog and the install probe end to end: the real worker with a short
// watchdog window, its cron run through wrangler dev's /__scheduled, a real site server whose
// page loses its script tag, and a sink recording what Slack would get.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { startWorker, eventually, waitStored } from './lib/harness.mjs';
import { startAlertSink } from './lib/origin-app.mjs';

const KEY = 'd0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe('silence watchdog and install probe', () => {
  let w; let sink; let site; let page;
  const api = async (method, path, body) => {
    const r = await fetch(`${w.base}${path}`, {
      method,
      headers: { Authorization: `Bearer ${w.adminToken}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: r.status, body: await r.json() };
  };
  const cron = async () => {
    const r = await fetch(`${w.base}/__scheduled`);
    assert.equal(r.status, 200, await r.text());
    await r.arrayBuffer().catch(() => {});
  };
  const send = async (environment) => {
    const event = { event_id: randomUUID().replaceAll('-', ''), message: 'heartbeat', environment, release: '7.0.0' };
    const r = await fetch(`${w.base}/api/1/store/?sentry_key=${KEY}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) });
    assert.equal(r.status, 200);
    return event.event_id;
  };
  const watch = async (environment) => (await api('GET', '/api/1/watchdog')).body.watches.find((x) => x.environment === environment);
  const texts = () => sink.alerts.map((a) => a.body.text);

  before(async () => {
    sink = await startAlertSink();
    page = 'tag';
    site = createServer((req, res) => {
      const tag = `<script src="${w.base}/sdk/v0.1.0/backstop.js" crossorigin="anonymous" data-dsn="http://${KEY}@127.0.0.1:${w.port}/1"></script>`;
      const body = page === 'tag' ? `<!doctype html><title>Shop</title>${tag}<p>hi</p>` : '<!doctype html><title>Shop</title><p>redesigned, no tag</p>';
      res.writeHead(200, { 'content-type': 'text/html' }).end(body);
    });
    await new Promise((r) => site.listen(0, '127.0.0.1', r));
    const projects = {
      1: {
        public_key: KEY,
        rate_limit: { burst: 200, per_second: 20 },
        site_url: `http://127.0.0.1:${site.address().port}/`,
        watchdog: { floor_ms: 10_000, k: 1, max_ms: 15_000 },
      },
    };
    w = await startWorker({ testScheduled: true, vars: { BACKSTOP_PROJECTS: JSON.stringify(projects) } });
    const r = await api('PUT', '/api/1/alerts/destinations/slack', { kind: 'slack', url: sink.url });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  });

  after(async () => {
    await w?.stop();
    await sink?.close();
    await new Promise((r) => site?.close(r));
  });

  test('a project never seen never alerts', async () => {
    await cron();
    assert.deepEqual((await api('GET', '/api/1/watchdog')).body.watches, []);
    assert.equal(sink.alerts.filter((a) => /stopped|silent|quiet/i.test(a.body.text)).length, 0);
  });

  test('the watchdog goes down after the silence and up when signals return', async () => {
    const sent = [];
    for (let i = 0; i < 3; i++) sent.push(await send('production'));
    // Signals are taken when the queue consumer stores the events.
    assert.ok(await waitStored(w, sent), 'the three heartbeats stored');
    const up = await eventually(() => watch('production'));
    assert.equal(up?.state, 'up', JSON.stringify(up));
    assert.ok(up.down_after_ms >= 10_000 && up.down_after_ms <= 15_000, JSON.stringify(up));
    const lastSignal = up.last_signal_ms;
    await cron();
    assert.equal((await watch('production')).state, 'up', 'not silent yet');
    const before = sink.alerts.length;
    // Tick as a frequent cron would until it is down.
    const down = await eventually(async () => {
      await cron();
      const x = await watch('production');
      return x.state === 'down' ? x : null;
    }, 40_000, 1_000);
    assert.ok(down, 'down');
    const alert = await eventually(() => sink.alerts.slice(before).find((a) => a.body.text.includes('production')), 15_000);
    assert.ok(alert, `down alert; got ${JSON.stringify(texts())}`);
    const detection = alert.at - lastSignal;
    console.log(`watchdog: down after ${detection} ms of silence (threshold ${up.down_after_ms} ms, cron every 1 s here)`);
    assert.ok(detection >= up.down_after_ms, 'never before the threshold');
    await cron();
    await sleep(1_000);
    const downAlerts = sink.alerts.slice(before).filter((a) => a.body.text.includes('production'));
    assert.equal(downAlerts.length, 1, 'one alert for the silence');
    await send('production');
    const again = await eventually(async () => {
      const x = await watch('production');
      return x.state === 'up' ? x : null;
    });
    assert.equal(again?.state, 'up', 'up at the first signal');
    const back = await eventually(() => sink.alerts.slice(before).find((a) => a !== alert && a.body.text.includes('production')), 15_000);
    assert.ok(back, 'came back alert');
  });

  test('the install probe alerts at once when the tag disappears, and when it is back', async () => {
    await cron();
    let probe = (await api('GET', '/api/1/watchdog')).body.install_probe;
    assert.match(probe.result, /^tag present/, JSON.stringify(probe));
    const before = sink.alerts.length;
    page = 'none';
    await cron();
    probe = (await api('GET', '/api/1/watchdog')).body.install_probe;
    assert.match(probe.result, /^tag missing/);
    const missing = await eventually(() => sink.alerts.slice(before).find((a) => /SDK tag missing from http:\/\/127\.0\.0\.1:\d+\/ since/.test(a.body.text)), 15_000);
    assert.ok(missing, `missing alert; got ${JSON.stringify(texts().slice(before))}`);
    await cron();
    await sleep(1_000);
    assert.equal(sink.alerts.slice(before).filter((a) => /SDK tag missing/.test(a.body.text)).length, 1, 'once per streak');
    page = 'tag';
    await cron();
    const back = await eventually(() => sink.alerts.slice(before).find((a) => a !== missing && /back|again|present/i.test(a.body.text)), 15_000);
    assert.ok(back, `tag back alert; got ${JSON.stringify(texts().slice(before))}`);
  });
});
