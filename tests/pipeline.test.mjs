// The ingest pipeline end to end under `wrangler dev`: the edge filters and scrubs, queues the
// job and answers; the queue consumer stores it. Proves that nothing unscrubbed is written
// anywhere (the whole local state is searched), that each inbound filter counts its drop, that a
// consumer failing part-way through its batches loses and doubles nothing, that a job every
// attempt failed for is kept as a dead letter with its reason and reprocessed, and that a queue
// that refuses makes the edge answer 503 (so the SDK keeps the event) instead of a false 200.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startWorker, adminGet, eventually, DEV_PUBLIC_KEY } from './lib/harness.mjs';

const id = () => randomUUID().replaceAll('-', '');

async function store(w, event, headers = {}) {
  const r = await fetch(`${w.base}/api/1/store/?sentry_key=${DEV_PUBLIC_KEY}`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(event),
  });
  return { status: r.status, body: await r.text(), headers: r.headers };
}

async function stored(w, ids, timeoutMs = 30_000) {
  return eventually(async () => {
    const e = await adminGet(w, '/api/1/events?limit=500');
    const have = new Set(e.events.map((x) => x.event_id));
    return ids.every((i) => have.has(i)) ? e.events : null;
  }, timeoutMs, 300);
}

/** Every file under `dir`, as bytes (the local D1 databases and WAL files, R2 blobs, queues). */
function filesUnder(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) out.push(...filesUnder(p));
    else out.push({ path: p, bytes: readFileSync(p) });
  }
  return out;
}

const PEM = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAsecretpemkeymaterial\n-----END RSA PRIVATE KEY-----';
const SECRETS = {
  password: 'hunter2-correct-horse',
  bearer: 'sk_live_51Hsecrettokenvalue',
  card: '4111 1111 1111 1111',
  urlcred: 'opensesame-url-password',
  cookie: 'sessvalue-9f8e7d6c5b4a',
  pem: 'secretpemkeymaterial',
  ip: '203.0.113.77',
  apikey: 'AKIAsecretapikey0042',
};

test('scrubbed at the edge: no secret anywhere in D1, R2, the queue or the API answer', async () => {
  const w = await startWorker();
  try {
    const secretEvent = (extra) => ({
      event_id: id(), level: 'error', platform: 'javascript',
      exception: { values: [{ type: 'Error', value: `payment with card ${SECRETS.card} refused` }] },
      user: { id: 'u-1', ip_address: '{{auto}}' },
      request: {
        url: `https://bob:${SECRETS.urlcred}@shop.example.com/checkout`,
        headers: { Authorization: `Bearer ${SECRETS.bearer}`, Cookie: `sessionid=${SECRETS.cookie}; theme=dark`, 'User-Agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36' },
      },
      extra: { password: SECRETS.password, api_key: SECRETS.apikey, key_file: PEM, author: 'Ada Lovelace', ...extra },
    });
    const small = secretEvent({});
    // Large enough for R2 at rest and for the queue message to need an R2 blob.
    const large = secretEvent({ padding: 'x'.repeat(300_000) });
    for (const ev of [small, large]) {
      const r = await store(w, ev, { 'CF-Connecting-IP': SECRETS.ip });
      assert.equal(r.status, 200, r.body);
    }
    await stored(w, [small.event_id, large.event_id]);
    const details = [];
    for (const ev of [small, large]) {
      const r = await fetch(`${w.base}/api/1/events/${ev.event_id}`, { headers: { Authorization: `Bearer ${w.adminToken}` } });
      assert.equal(r.status, 200);
      details.push(await r.text());
    }
    for (const text of details) {
      for (const [name, secret] of Object.entries(SECRETS)) {
        assert.ok(!text.includes(secret), `the API answer holds the ${name}`);
      }
      const d = JSON.parse(text);
      assert.match(d.event.scrubbed.summary, /values filtered \(/, 'the detail says what was filtered');
      assert.ok(d.event.scrubbed.redactions.some((r) => r.rule === 'password'));
      assert.equal(d.payload.extra.author, 'Ada Lovelace', 'author is not a secret');
      assert.ok(d.payload.contexts.browser, 'user-agent context added');
      assert.ok(d.payload.user.ip_address === undefined || !d.payload.user.ip_address.endsWith('.77'));
    }
    assert.equal(JSON.parse(details[1]).payload.extra.padding.length, 300_000, 'the large event is whole');
    const stats = await adminGet(w, '/api/1/stats');
    assert.ok(stats.scrubbed.password >= 2, JSON.stringify(stats.scrubbed));
    // The whole local state: D1 files (with their WAL), R2 blobs, queue storage.
    const files = filesUnder(w.persist);
    assert.ok(files.length > 0);
    let searched = 0;
    for (const f of files) {
      searched += f.bytes.length;
      for (const [name, secret] of Object.entries(SECRETS)) {
        assert.ok(!f.bytes.includes(Buffer.from(secret)), `${f.path} holds the ${name}`);
      }
    }
    assert.ok(files.some((f) => f.bytes.includes(Buffer.from(small.event_id))), 'the search did reach the stored events');
    console.log(`# searched ${files.length} state files, ${searched} bytes: no secret`);
  } finally {
    await w.stop();
  }
});

test('each inbound filter drops its event and counts it under its own reason', async () => {
  const projects = {
    1: {
      public_key: DEV_PUBLIC_KEY,
      rate_limit: { burst: 500, per_second: 100 },
      filters: {
        localhost: true, legacy_browsers: true, web_crawlers: true, browser_extensions: true,
        releases: ['*-canary'], error_messages: ['*ResizeObserver loop*'],
        ip_ranges: ['198.51.100.0/24'], allowed_script_origins: ['https://app.example.com'],
      },
    },
  };
  const w = await startWorker({ vars: { BACKSTOP_PROJECTS: JSON.stringify(projects) } });
  const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
  const frames = (url) => ({ stacktrace: { frames: [{ abs_path: url, filename: url, function: 'f', lineno: 1, colno: 1, in_app: true }] } });
  const base = (over = {}) => ({
    event_id: id(), platform: 'javascript',
    request: { url: 'https://app.example.com/page', headers: { 'User-Agent': CHROME } },
    exception: { values: [{ type: 'TypeError', value: 'x is undefined', ...frames('https://app.example.com/app.js') }] },
    ...over,
  });
  const cases = {
    release: base({ release: '2.0.0-canary' }),
    error_message: base({ exception: { values: [{ type: 'Error', value: 'ResizeObserver loop limit exceeded', ...frames('https://app.example.com/app.js') }] } }),
    localhost: base({ request: { url: 'http://localhost:3000/', headers: { 'User-Agent': CHROME } } }),
    ip_range: base({ user: { ip_address: '198.51.100.9' } }),
    browser_extensions: base({ exception: { values: [{ type: 'Error', value: 'boom', ...frames('chrome-extension://abcdefghijklmnop/content.js') }] } }),
    web_crawlers: base({ request: { url: 'https://app.example.com/', headers: { 'User-Agent': 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)' } } }),
    legacy_browsers: base({ request: { url: 'https://app.example.com/', headers: { 'User-Agent': 'Mozilla/5.0 (Windows NT 6.3; Trident/7.0; rv:11.0) like Gecko' } } }),
    script_origin: base({ exception: { values: [{ type: 'Error', value: 'boom', ...frames('https://cdn.thirdparty.example/widget.js') }] } }),
  };
  try {
    const survivor = base();
    for (const ev of [...Object.values(cases), survivor]) {
      const r = await store(w, ev);
      assert.equal(r.status, 200, r.body);
    }
    await stored(w, [survivor.event_id]);
    const stats = await eventually(async () => {
      const s = await adminGet(w, '/api/1/stats');
      return s.totals.accepted === Object.keys(cases).length + 1 ? s : null;
    });
    assert.ok(stats, 'every request counted as accepted');
    const want = Object.fromEntries(Object.keys(cases).map((k) => [k, 1]));
    assert.deepEqual(stats.filtered, want, 'one drop per filter, under its own reason');
    const events = await adminGet(w, '/api/1/events?limit=50');
    assert.deepEqual(events.events.map((e) => e.event_id), [survivor.event_id], 'only the survivor is stored');
  } finally {
    await w.stop();
  }
});

test('a consumer failing part-way through its batches loses nothing and doubles nothing', async () => {
  const now = Date.now();
  const w = await startWorker({
    vars: {
      // Every message after the first of a batch sees D1 fail on its first attempt.
      BACKSTOP_FAULTS: JSON.stringify({ consumer: { from: now, until: now + 600_000 } }),
      BACKSTOP_QUEUE_RETRY_SECS: '1',
      BACKSTOP_PROJECTS: JSON.stringify({ 1: { public_key: DEV_PUBLIC_KEY, rate_limit: { burst: 500, per_second: 100 } } }),
    },
  });
  try {
    const events = Array.from({ length: 30 }, (_, i) => ({
      event_id: id(), platform: 'javascript', fingerprint: [`batch-${i % 3}`],
      exception: { values: [{ type: 'Error', value: `batch failure ${i % 3}` }] },
    }));
    // Sent concurrently so the consumer gets them in batches; a third are sent twice (an
    // SDK retry), which must still be one event.
    const sends = [...events, ...events.slice(0, 10)].map((ev) => store(w, ev));
    for (const r of await Promise.all(sends)) assert.equal(r.status, 200, r.body);
    const got = await stored(w, events.map((e) => e.event_id), 60_000);
    assert.ok(got, 'every accepted event stored after the consumer recovered');
    assert.equal(got.length, 30, 'no event stored twice');
    const issues = await adminGet(w, '/api/1/issues?status=all');
    const total = issues.issues.reduce((n, i) => n + i.count, 0);
    assert.equal(total, 30, `issue counts add up to the events: ${JSON.stringify(issues.issues.map((i) => i.count))}`);
    const stats = await eventually(async () => {
      const s = await adminGet(w, '/api/1/stats');
      return s.totals.accepted === 40 ? s : null;
    }, 30_000);
    assert.ok(stats, 'each accepted request counted once');
    assert.equal(stats.pipeline.stored, 40);
    assert.equal(stats.dead_letters.count, 0);
    assert.match(w.logs(), /failed \(attempt 1\)/, 'the fault did make attempts fail');
  } finally {
    await w.stop();
  }
});

test('a job every attempt failed for is a dead letter with its reason, and reprocess stores it', async () => {
  // D1 fails for 10 s, starting once the worker is surely up (the window is fixed at start).
  const from = Date.now() + 30_000;
  const w = await startWorker({
    vars: {
      BACKSTOP_FAULTS: JSON.stringify({ d1: { from, until: from + 10_000 } }),
      BACKSTOP_QUEUE_RETRY_SECS: '0',
    },
  });
  try {
    assert.ok(Date.now() < from - 1_000, 'the worker started before the outage');
    await new Promise((r) => setTimeout(r, from - Date.now() + 200));
    const ev = { event_id: id(), platform: 'javascript', exception: { values: [{ type: 'Error', value: 'kept through an outage' }] } };
    const r = await store(w, ev);
    assert.equal(r.status, 200, `the edge accepts while D1 is down: ${r.body}`);
    const dead = await eventually(async () => {
      try {
        const d = await adminGet(w, '/api/1/dead-letters');
        return d.count === 1 ? d : null;
      } catch { return null; }
    }, 60_000, 500);
    assert.ok(dead, 'the job is kept as a dead letter once D1 is back');
    assert.equal(dead.items[0].attempts, 5);
    assert.match(dead.items[0].reason, /D1|no such table|fault/i, dead.items[0].reason);
    assert.ok(dead.oldest <= Date.now());
    const stats = await adminGet(w, '/api/1/stats');
    assert.equal(stats.dead_letters.count, 1, 'the stats show the dead letter');
    const rp = await fetch(`${w.base}/api/1/dead-letters/reprocess`, { method: 'POST', headers: { Authorization: `Bearer ${w.adminToken}` } });
    assert.equal(rp.status, 200);
    const out = await rp.json();
    assert.equal(out.queued, 1);
    assert.equal(out.remaining, 0);
    assert.ok(await stored(w, [ev.event_id]), 'reprocessed and stored');
  } finally {
    await w.stop();
  }
});

test('a queue that refuses makes the edge answer 503 with Retry-After, never a false 200', async () => {
  const now = Date.now();
  const w = await startWorker({ vars: { BACKSTOP_FAULTS: JSON.stringify({ queue: { from: now, until: now + 60_000 } }) } });
  try {
    const ev = { event_id: id(), message: 'queued nowhere' };
    const r = await store(w, ev);
    assert.equal(r.status, 503, r.body);
    assert.ok(Number(r.headers.get('retry-after')) > 0);
    const body = JSON.parse(r.body);
    assert.ok(body.error, r.body);
    const events = await adminGet(w, '/api/1/events');
    assert.equal(events.events.length, 0);
  } finally {
    await w.stop();
  }
});
