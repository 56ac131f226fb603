// Retention and quotas end to end: the real worker under wrangler dev, its cron run "in the
// future" through wrangler dev's /cdn-cgi/local/scheduled?time=<ms> (the ScheduledEvent's
// scheduled time, which retention uses as its clock), small retention batches so a backlog
// takes several runs, a recorder app behind a guarded webhook route, and projects with and
// without a daily quota. R2 objects are checked in the local R2 state wrangler dev keeps.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startWorker, adminGet, waitStored, waitJobs, DEV_PUBLIC_KEY } from './lib/harness.mjs';
import { startOriginApp } from './lib/origin-app.mjs';

const DAY = 24 * 3600 * 1000;
const KEY2 = '22222222222222222222222222222222';
const KEY3 = '33333333333333333333333333333333';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const uuid = () => randomUUID().replaceAll('-', '');

describe('retention and quotas', () => {
  let w; let origin;
  // Events received now are "old" for the crons run later (the phases below share state).
  const oldIds = []; const newIds = []; let attId; let split; let issueId;
  let delivered; let held;

  /** Runs the cron once with its scheduled time at `time` (epoch ms). */
  const cron = async (time) => {
    const r = await fetch(`${w.base}/cdn-cgi/local/scheduled?time=${Math.round(time)}`);
    const text = await r.text();
    assert.equal(r.status, 200, text);
  };
  const get = async (path) => {
    const r = await fetch(`${w.base}${path}`, { headers: { Authorization: `Bearer ${w.adminToken}` } });
    return { status: r.status, body: r.headers.get('content-type')?.includes('json') ? await r.json() : await r.arrayBuffer() };
  };
  const store = async (project, key, event) => fetch(`${w.base}/api/${project}/store/?sentry_key=${key}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event),
  });
  const sendEvent = async (group, extra = {}) => {
    const event = {
      event_id: uuid(), level: 'error', platform: 'javascript', fingerprint: [group], environment: 'production',
      exception: { values: [{ type: 'TypeError', value: `${group} broke` }] }, ...extra,
    };
    const r = await store(1, DEV_PUBLIC_KEY, event);
    assert.equal(r.status, 200, await r.text());
    return event.event_id;
  };
  /** An event with an attachment, in one envelope. */
  const sendWithAttachment = async (group) => {
    const id = uuid();
    const event = JSON.stringify({ event_id: id, message: `${group} with a file`, fingerprint: [group] });
    const file = `attachment of ${group}\n`;
    const body = `{"event_id":"${id}"}\n{"type":"event","length":${Buffer.byteLength(event)}}\n${event}\n`
      + `{"type":"attachment","length":${Buffer.byteLength(file)},"filename":"notes.txt","content_type":"text/plain"}\n${file}\n`;
    const r = await fetch(`${w.base}/api/1/envelope/?sentry_key=${DEV_PUBLIC_KEY}`, { method: 'POST', body });
    assert.equal(r.status, 200, await r.text());
    return id;
  };
  const eventStatus = async (id) => (await get(`/api/1/events/${id}`)).status;
  /** Files of the local R2 bucket's blobs (one per stored object). */
  const r2Blobs = () => {
    const found = [];
    const walk = (dir) => {
      if (!existsSync(dir)) return;
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p); else found.push(p);
      }
    };
    walk(join(w.persist, 'v3', 'r2', 'backstop-payloads', 'blobs'));
    return found;
  };
  const deliveries = async () => (await adminGet(w, '/api/webhooks/deliveries?status=held,failed,delivered,exhausted,refused')).deliveries;

  before(async () => {
    origin = await startOriginApp();
    origin.behave('/hook/ok', { status: 200 });
    origin.behave('/hook/big', { status: 413, body: '<html><title>413 Request Entity Too Large</title></html>' });
    const projects = {
      1: { public_key: DEV_PUBLIC_KEY, rate_limit: { burst: 500, per_second: 100 } },
      2: { public_key: KEY2, quota: 3, rate_limit: { burst: 500, per_second: 100 } },
      3: { public_key: KEY3, quota: 5, rate_limit: { burst: 500, per_second: 100 } },
    };
    w = await startWorker({
      vars: {
        BACKSTOP_PROJECTS: JSON.stringify(projects),
        // Small batches so the backlog below needs several runs: 5 rows a statement, 2
        // statements per table and project per run.
        BACKSTOP_RETENTION: JSON.stringify({ batch_rows: 5, batches_per_task: 2, batches_per_run: 100 }),
        BACKSTOP_WEBHOOK_ROUTES: JSON.stringify([{ name: 'hook', prefix: '/hook/', origin: `http://127.0.0.1:${origin.port}` }]),
      },
    });
  });

  after(async () => {
    await w?.stop();
    await origin?.close();
  });

  test('a project with a quota gets 429 at event N+1, counted; sessions and other projects pass', async () => {
    const event = () => ({ event_id: uuid(), message: 'quota me', level: 'error' });
    for (let i = 0; i < 3; i++) {
      const r = await store(2, KEY2, event());
      assert.equal(r.status, 200, `event ${i + 1} of 3: ${await r.text()}`);
    }
    const r = await store(2, KEY2, event());
    const body = await r.json();
    assert.equal(r.status, 429, JSON.stringify(body));
    const now = Date.now();
    const toMidnight = Math.ceil(((Math.floor(now / DAY) + 1) * DAY - now) / 1000);
    const retryAfter = Number(r.headers.get('retry-after'));
    assert.ok(Math.abs(retryAfter - toMidnight) <= 2, `Retry-After ${retryAfter} s, next UTC day in ${toMidnight} s`);
    assert.equal(r.headers.get('x-sentry-rate-limits'), `${retryAfter}:error;default;security:project:quota_exceeded`);
    assert.equal(body.error, 'quota_exceeded');
    assert.equal(body.quota, 'events_per_utc_day');
    assert.equal(body.limit, 3);
    assert.equal(body.retry_after, retryAfter);
    assert.match(body.detail, /daily quota of 3 events/);
    // An envelope without an event (a session) neither counts nor is refused.
    const session = JSON.stringify({ sid: randomUUID(), init: true, status: 'exited', started: new Date().toISOString(), attrs: { release: 'q@1' } });
    const s = await fetch(`${w.base}/api/2/envelope/?sentry_key=${KEY2}`, {
      method: 'POST', body: `{}\n{"type":"session","length":${Buffer.byteLength(session)}}\n${session}\n`,
    });
    assert.equal(s.status, 200, await s.text());
    // The envelope endpoint with the key only in the envelope header's DSN is counted as well.
    const ev = JSON.stringify({ event_id: uuid(), message: 'via dsn' });
    const viaDsn = await fetch(`${w.base}/api/2/envelope/`, {
      method: 'POST', body: `{"dsn":"http://${KEY2}@127.0.0.1:${w.port}/2"}\n{"type":"event","length":${Buffer.byteLength(ev)}}\n${ev}\n`,
    });
    assert.equal(viaDsn.status, 429, await viaDsn.text());
    // `accepted` is counted by the queue consumer with each job (the 429s at the edge).
    const stats = await waitJobs(w, 4, { project: 2 });
    assert.equal(stats.totals.accepted, 4, `3 events and the session: ${JSON.stringify(stats.totals)}`);
    assert.equal(stats.totals.quota_exceeded, 2, JSON.stringify(stats.totals));
    assert.equal(stats.totals.rate_limited, 0);
    // Another project is unaffected.
    const otherEvent = event();
    const other = await store(1, DEV_PUBLIC_KEY, otherEvent);
    assert.equal(other.status, 200);
    oldIds.push(otherEvent.event_id);
    assert.equal((await adminGet(w, '/api/1/stats')).totals.quota_exceeded, 0);
  });

  test('concurrent requests never pass the quota', async () => {
    const results = await Promise.all(Array.from({ length: 12 }, () => store(3, KEY3, { event_id: uuid(), message: 'race' })));
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [...Array(5).fill(200), ...Array(7).fill(429)]);
    const stats = await waitJobs(w, 5, { project: 3 });
    assert.equal(stats.totals.accepted, 5);
    assert.equal(stats.totals.quota_exceeded, 7);
    assert.equal((await adminGet(w, '/api/3/events?limit=100')).events.length, 5);
  });


  test('setup: events (some in R2, one with an attachment), webhooks delivered and held', async () => {
    const blobsBefore = r2Blobs().length;
    // 14 old events (one from the quota test): with the batch of 5 and 2 batches per run,
    // they need two runs.
    for (let i = 0; i < 10; i++) oldIds.push(await sendEvent('old', { release: `r${i}` }));
    for (let i = 0; i < 2; i++) oldIds.push(await sendEvent('old', { extra: { pad: 'x'.repeat(70_000 + i) } }));
    attId = await sendWithAttachment('old-attached');
    oldIds.push(attId);
    assert.equal(oldIds.length, 14);
    // The queue consumer puts the large payloads in R2 when it stores them.
    assert.ok(await waitStored(w, oldIds), 'the 14 old events stored');
    assert.equal(r2Blobs().length - blobsBefore, 3, 'two payloads over 64 KiB and the attachment are in R2');
    const attachment = await get(`/api/1/events/${attId}/attachments/0`);
    assert.equal(attachment.status, 200);

    const ok = await fetch(`${w.base}/hook/ok`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"n":1}' });
    assert.equal(ok.status, 200);
    delivered = ok.headers.get('x-backstop-delivery-id');
    const big = await fetch(`${w.base}/hook/big`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"n":2}' });
    assert.equal(big.status, 202, 'the guard holds what the origin refused');
    held = big.headers.get('x-backstop-delivery-id');
    const rows = await deliveries();
    assert.equal(rows.find((d) => d.id === delivered)?.status, 'delivered');
    assert.equal(rows.find((d) => d.id === held)?.status, 'held');

    await sleep(1500);
    split = Date.now();
    await sleep(1500);
    for (let i = 0; i < 3; i++) newIds.push(await sendEvent('new'));
    assert.ok(await waitStored(w, newIds), 'the 3 new events stored');
    // And counted: 14 old and 3 new events, one job each, so the rollup below sees them all.
    await waitJobs(w, 17);
    const issues = (await adminGet(w, '/api/1/issues?status=all')).issues;
    issueId = issues.find((i) => i.title.includes('old broke')).issue_id;
    assert.ok((await adminGet(w, `/api/1/issues/${issueId}`)).hourly.length > 0, 'the issue has hourly counts');
  });

  test('minutes older than 24 h are rolled up into hours with identical totals, checked after every run', async () => {
    const sums = (rows) => rows.reduce((acc, r) => { acc[r.reason] = (acc[r.reason] ?? 0) + r.count; return acc; }, {});
    const beforeStats = await adminGet(w, '/api/1/stats');
    const want = sums(beforeStats.minutes);
    assert.ok(want.accepted >= 17, JSON.stringify(want));
    assert.deepEqual(sums(beforeStats.hours), {}, 'nothing rolled up yet');
    let runs = 0;
    for (;;) {
      await cron(Date.now() + DAY + 3600 * 1000);
      runs += 1;
      const s = await adminGet(w, '/api/1/stats');
      // At every step minutes + hours hold exactly what was counted: nothing twice, nothing lost.
      const both = sums([...s.minutes, ...s.hours]);
      assert.deepEqual(both, want, `after run ${runs}`);
      if (s.minutes.length === 0) {
        assert.deepEqual(sums(s.hours), want, 'the hours hold the same totals');
        assert.ok(s.hours.every((h) => h.hour % 3600000 === 0));
        break;
      }
      assert.ok(runs < 30, 'the rollup finishes');
    }
    // Counters of other projects were rolled up too.
    console.log(`# rollup finished in ${runs} cron run(s): ${JSON.stringify(want)}`);
    const p2 = await adminGet(w, '/api/2/stats');
    assert.deepEqual(p2.minutes, []);
    assert.equal(p2.hours.filter((h) => h.reason === 'quota_exceeded').reduce((a, h) => a + h.count, 0), 2);
  });

  test('29 days later everything stays', async () => {
    const blobs = r2Blobs().length;
    await cron(split + 29 * DAY);
    for (const id of [...oldIds, ...newIds]) assert.equal(await eventStatus(id), 200, id);
    assert.equal(r2Blobs().length, blobs);
    const rows = await deliveries();
    assert.ok(rows.find((d) => d.id === delivered), 'delivered 29 days ago: kept');
  });

  test('past 30 days old events go with their R2 payloads and attachments, over two runs; newer ones stay', async () => {
    const blobs = r2Blobs().length;
    // At split + 30 days the old events are 30 days and 1.5 s or more old, the new ones less.
    await cron(split + 30 * DAY);
    let gone = 0;
    for (const id of oldIds) if (await eventStatus(id) === 404) gone += 1;
    assert.equal(gone, 10, 'one run deletes two batches of 5');
    let stats = await adminGet(w, '/api/1/stats');
    assert.equal(stats.retention.events, 10, JSON.stringify(stats.retention));
    await cron(split + 30 * DAY);
    for (const id of oldIds) assert.equal(await eventStatus(id), 404, `${id} deleted`);
    for (const id of newIds) assert.equal(await eventStatus(id), 200, `${id} (just under 30 days) kept`);
    assert.equal((await get(`/api/1/events/${attId}/attachments/0`)).status, 404);
    assert.equal(blobs - r2Blobs().length, 3, 'the two R2 payloads and the attachment object are gone');
    stats = await adminGet(w, '/api/1/stats');
    assert.equal(stats.retention.events, 14);
    assert.equal(stats.retention.attachments, 1);
    const listed = (await adminGet(w, '/api/1/events?limit=100')).events.map((e) => e.event_id);
    for (const id of oldIds) assert.ok(!listed.includes(id));
  });

  test('a delivered webhook goes 30 days after delivery; a held one stays while held', async () => {
    await cron(split + 31 * DAY);
    const rows = await deliveries();
    assert.equal(rows.find((d) => d.id === delivered), undefined, 'delivered 31 days ago: deleted');
    const h = rows.find((d) => d.id === held);
    assert.equal(h?.status, 'held', 'held: kept');
    await cron(split + 400 * DAY);
    const later = await deliveries();
    assert.equal(later.find((d) => d.id === held)?.status, 'held', 'still held 400 days later');
    const payload = await fetch(`${w.base}/api/webhooks/deliveries/${held}/payload`, { headers: { Authorization: `Bearer ${w.adminToken}` } });
    assert.equal(payload.status, 200);
    assert.equal(await payload.text(), '{"n":2}', 'its payload is intact');
  });

  test('issue counts stay 89 days and go past 90', async () => {
    // The 400-day cron above deleted them: check with a fresh issue and nearer crons.
    assert.ok(await waitStored(w, [await sendEvent('counted')]), 'the counted event stored');
    const issues = (await adminGet(w, '/api/1/issues?status=all')).issues;
    const id = issues.find((i) => i.title.includes('counted broke')).issue_id;
    const hourly = async () => (await adminGet(w, `/api/1/issues/${id}`)).hourly;
    assert.equal((await hourly()).length, 1);
    await cron(Date.now() + 89 * DAY);
    assert.equal((await hourly()).length, 1, '89 days: kept');
    await cron(Date.now() + 91 * DAY);
    assert.deepEqual(await hourly(), [], '91 days: deleted');
    const issue = await adminGet(w, `/api/1/issues/${id}`);
    assert.equal(issue.count, 1, 'the issue itself and its total stay');
    assert.deepEqual((await adminGet(w, `/api/1/issues/${issueId}`)).hourly, [], 'the older issue lost its counts too');
  });
});
