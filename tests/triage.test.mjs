// Triage and alerts end to end: the real worker (wrangler dev / workerd, local D1 and Durable
// Object alarms), events sent as a Sentry client sends them, issues changed through the
// Sentry-vocabulary API, and three local sinks recording what Slack, a webhook receiver and
// PagerDuty would get.
import { test, before, after, beforeEach, afterEach, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { startWorker, eventually, waitStored } from './lib/harness.mjs';
import { startAlertSink } from './lib/origin-app.mjs';
import { sendEvent } from './lib/events.mjs';

const KEY = 'd0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0';
const SECRET = 'whsec-0123456789abcdef';
const ROUTING_KEY = 'R0123456789abcdef0123456789abcde'; // 32 characters
// Long enough for a burst of 40 sent 8 at a time on a busy 2-core machine.
const STORM_WINDOW_MS = 5_000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe('triage and alerts', () => {
  let w; let slack; let hook; let pd;
  const auth = () => ({ Authorization: `Bearer ${w.adminToken}`, 'content-type': 'application/json' });
  const api = async (method, path, body, headers = {}) => {
    const r = await fetch(`${w.base}${path}`, { method, headers: { ...auth(), ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    let json; try { json = JSON.parse(text); } catch { json = text; }
    return { status: r.status, body: json };
  };
  /** Sends one event as a Sentry client does; `group` becomes its fingerprint. */
  const send = (group, extra = {}) => sendEvent(w, group, extra);
  const issueOf = async (group) => {
    const r = await api('GET', `/api/1/issues?query=${encodeURIComponent(`${group} broke`)}&limit=5`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.issues.find((i) => i.title.includes(`${group} broke`));
  };
  /** Waits until the queue consumer has stored every event id (what a test then finds absent was processed). */
  const stored = async (ids) => assert.ok(await waitStored(w, ids), `the consumer stored ${ids.length} event(s)`);
  const slackFor = (group) => slack.alerts.filter((a) => JSON.stringify(a.body).includes(`${group} broke`));

  before(async () => {
    slack = await startAlertSink();
    hook = await startAlertSink();
    pd = await startAlertSink();
    w = await startWorker({ testScheduled: true, vars: { BACKSTOP_ALERT_STORM: JSON.stringify({ max_individual: 5, window_ms: STORM_WINDOW_MS }) } });
    for (const [id, d] of [
      ['slack', { kind: 'slack', url: slack.url }],
      ['hook', { kind: 'webhook', url: hook.url, secret: SECRET }],
      ['pd', { kind: 'pagerduty', url: pd.url, routing_key: ROUTING_KEY }],
    ]) {
      const r = await api('PUT', `/api/1/alerts/destinations/${id}`, d);
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
  });

  // Figures for the closing note: how many requests each destination got per scenario.
  let mark = null;
  const figures = [];
  beforeEach(() => { mark = [slack.alerts.length, hook.alerts.length, pd.alerts.length]; });
  afterEach((t) => {
    const [a, b, c] = mark;
    figures.push(`${t.name.slice(0, 60)}: slack ${slack.alerts.length - a}, webhook ${hook.alerts.length - b}, pagerduty ${pd.alerts.length - c}`);
  });

  after(async () => {
    console.log(`alerts sent per scenario:\n  ${figures.join('\n  ')}`);
    await w?.stop();
    await slack?.close();
    await hook?.close();
    await pd?.close();
  });

  test('a destination that leads back into Backstop is refused', async () => {
    const r = await api('PUT', '/api/1/alerts/destinations/loop', { kind: 'slack', url: `${w.base}/hooks/x` });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.error, 'invalid_param');
    assert.match(r.body.detail, /back/i);
  });

  test('a new issue alerts once on every destination, signed, with a link and what to do', async () => {
    await send('first-issue', { release: '1.0.0', environment: 'production' });
    const got = await eventually(() => slackFor('first-issue').length >= 1 && hook.alerts.length >= 1 && pd.alerts.length >= 1, 15_000);
    assert.ok(got, `slack ${slack.alerts.length}, webhook ${hook.alerts.length}, pagerduty ${pd.alerts.length}`);
    const s = slackFor('first-issue')[0];
    assert.match(s.body.text, /first-issue broke/);
    assert.match(s.body.text, /\/\?project=1#issue=\d+/, 'links to the issue');
    assert.equal(s.headers['x-backstop-alert'], '1', 'marked, so the guard refuses it if it comes back');
    const h = hook.alerts[0];
    const [, t, v1] = /t=(\d+),v1=([0-9a-f]+)/.exec(h.headers['x-backstop-signature']);
    const { raw } = h;
    assert.equal(createHmac('sha256', SECRET).update(`${t}.${raw}`).digest('hex'), v1, 'HMAC-SHA256 over "t.body"');
    const p = pd.alerts[0].body;
    assert.equal(p.event_action, 'trigger');
    assert.equal(p.routing_key, ROUTING_KEY);
    assert.ok(p.dedup_key, 'one incident per episode');
    await stored([await send('first-issue', { release: '1.0.0', environment: 'production' })]);
    await sleep(STORM_WINDOW_MS + 1_500);
    assert.equal(slackFor('first-issue').length, 1, 'the second event of an open episode is quiet');
  });

  test('snooze until 10 more: 9 stay silent, the 10th wakes and alerts', async () => {
    await send('snoozy');
    const issue = await eventually(() => issueOf('snoozy'));
    await eventually(() => slackFor('snoozy').length >= 1, 15_000);
    const r = await api('PUT', `/api/1/issues/${issue.id}`, { status: 'ignored', statusDetails: { ignoreCount: 10 } }, { 'x-backstop-actor': 'alice@example.com' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.issues[0].status, 'ignored');
    assert.equal(r.body.issues[0].statusDetails.ignoreCount, 10);
    const before = slackFor('snoozy').length;
    const nine = [];
    for (let i = 0; i < 9; i++) nine.push(await send('snoozy'));
    await stored(nine);
    await sleep(1_500);
    assert.equal((await issueOf('snoozy')).status, 'ignored', '9 more: still snoozed');
    assert.equal(slackFor('snoozy').length, before, '9 more: no alert');
    await send('snoozy');
    const woke = await eventually(async () => (await issueOf('snoozy')).status === 'unresolved');
    assert.ok(woke, 'the 10th wakes it');
    const alert = await eventually(() => slackFor('snoozy').find((a) => /more events/.test(a.body.text)), 15_000);
    assert.ok(alert, `woke alert; got ${JSON.stringify(slackFor('snoozy').map((a) => a.body.text))}`);
    const d = await api('GET', `/api/1/issues/${issue.id}`);
    const kinds = d.body.activity.map((a) => `${a.kind}:${a.actor}`);
    assert.ok(kinds.includes('ignored:alice@example.com'), kinds.join(', '));
    assert.ok(kinds.includes('snooze_woke:backstop'), kinds.join(', '));
  });

  test('resolved in the next release: an older release stays resolved, a newer one regresses and alerts', async () => {
    await send('fixed-next', { release: '2.0.0' });
    const issue = await eventually(() => issueOf('fixed-next'));
    await eventually(() => slackFor('fixed-next').length >= 1, 15_000);
    let r = await api('PUT', `/api/1/issues/${issue.id}`, { status: 'resolved', statusDetails: { inNextRelease: true } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.issues[0].statusDetails.inNextRelease, true);
    // PagerDuty's incident for the new-issue episode is resolved.
    assert.ok(await eventually(() => pd.alerts.find((a) => a.body.event_action === 'resolve'), 15_000), 'PagerDuty resolve');
    await stored([await send('fixed-next', { release: '1.9.0' }), await send('fixed-next', { release: '2.0.0' })]);
    await sleep(1_000);
    assert.equal((await issueOf('fixed-next')).status, 'resolved', 'older and same release: no regression');
    await send('fixed-next', { release: '2.0.1' });
    const back = await eventually(async () => {
      const i = await issueOf('fixed-next');
      return i.status === 'unresolved' ? i : null;
    });
    assert.ok(back, 'a newer release regresses it');
    assert.equal(back.substatus, 'regressed');
    const alert = await eventually(() => slackFor('fixed-next').find((a) => /2\.0\.1/.test(a.body.text)), 15_000);
    assert.ok(alert, 'regression alert');
    const d = await api('GET', `/api/1/issues/${issue.id}`);
    assert.ok(d.body.activity.some((a) => a.detail === 'regressed in 2.0.1 (fix claimed in the release after 2.0.0)'), JSON.stringify(d.body.activity));
  });

  test('resolved in a release: an event without a release or from before the fix never regresses', async () => {
    await send('fixed-in', { release: '3.0.0' });
    const issue = await eventually(() => issueOf('fixed-in'));
    const r = await api('PUT', `/api/1/issues/${issue.id}`, { status: 'resolved', statusDetails: { inRelease: '3.1.0' } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    await stored([
      await send('fixed-in'),
      await send('fixed-in', { release: '3.0.5' }),
      await send('fixed-in', { release: '3.2.0', timestamp: (Date.now() - 3_600_000) / 1000 }),
    ]);
    await sleep(1_000);
    assert.equal((await issueOf('fixed-in')).status, 'resolved');
    await send('fixed-in', { release: '3.2.0' });
    const back = await eventually(async () => (await issueOf('fixed-in')).substatus === 'regressed');
    assert.ok(back, 'a newer release after the fix regresses it');
  });

  test('escalation: the 11th event in an hour goes above the floor ceiling and alerts', async () => {
    const ten = [];
    for (let i = 0; i < 10; i++) ten.push(await send('hot'));
    await stored(ten);
    const calm = await issueOf('hot');
    assert.equal(calm.substatus, 'new');
    await send('hot');
    const hot = await eventually(async () => (await issueOf('hot')).substatus === 'escalating');
    assert.ok(hot, 'escalating');
    const d = await api('GET', `/api/1/issues/${calm.id}`);
    assert.equal(d.body.ceiling, 10, 'the dashboard shows the ceiling');
    assert.equal(d.body.this_hour, 11);
    assert.ok(await eventually(() => slackFor('hot').find((a) => /escalat/i.test(a.body.text)), 15_000), 'escalation alert');
  });

  test('a storm of 40 new issues is one message', async () => {
    await sleep(STORM_WINDOW_MS + 500);
    const before = slack.alerts.length;
    for (let i = 0; i < 40; i += 8) {
      await Promise.all(Array.from({ length: 8 }, (_, k) => send(`storm-${i + k}`, { release: '4.0.0' })));
    }
    const one = await eventually(() => slack.alerts.slice(before).find((a) => /40 new issues since release 4\.0\.0/.test(a.body.text)), 20_000);
    assert.ok(one, `storm message; got ${JSON.stringify(slack.alerts.slice(before).map((a) => a.body.text.slice(0, 80)))}`);
    await sleep(1_000);
    const stormish = slack.alerts.slice(before).filter((a) => /storm-\d+ broke|new issues/.test(a.body.text));
    assert.equal(stormish.length, 1, 'one message for the storm, none per issue');
    assert.match(one.body.text, /release=4\.0\.0/, 'links to the filtered list');
  });

  test('a destination that is down: the alert is held, retried and delivered once', async () => {
    slack.set({ mode: 'fail' });
    await send('while-down');
    const failed = await eventually(async () => {
      const o = await api('GET', '/api/1/alerts');
      return o.body.alerts.find((a) => a.destination_id === 'slack' && a.summary.includes('while-down') && a.attempts >= 1 && a.status === 'pending');
    }, 20_000);
    assert.ok(failed, 'kept after the first refusal');
    assert.match(failed.last_error, /500/);
    slack.set({ mode: 'ok' });
    const delivered = await eventually(async () => {
      const o = await api('GET', '/api/1/alerts');
      return o.body.alerts.find((a) => a.id === failed.id && a.status === 'delivered');
    }, 60_000, 1_000);
    assert.ok(delivered, 'delivered by a retry');
    assert.ok(delivered.attempt_log.length >= 2, JSON.stringify(delivered.attempt_log));
    const ok = slack.alerts.filter((a) => a.mode === 'ok' && JSON.stringify(a.body).includes('while-down broke'));
    assert.equal(ok.length, 1, 'delivered once');
  });

  test('assignment to the team, notes, filters, bulk and merge', async () => {
    await stored([
      await send('merge-a', { environment: 'staging', release: '5.0.0', user: { id: 'u1' } }),
      await send('merge-a', { environment: 'staging', release: '5.0.0', user: { id: 'u2' } }),
      await send('merge-b', { environment: 'staging', user: { id: 'u3' } }),
    ]);
    const a = await eventually(() => issueOf('merge-a'));
    const b = await eventually(() => issueOf('merge-b'));
    assert.equal(a.userCount, 2);
    let r = await api('PUT', `/api/1/issues/${a.id}`, { assignedTo: 'mallory@example.com' });
    assert.equal(r.status, 400);
    assert.match(r.body.detail, /alice@example.com/, 'names the team');
    r = await api('PUT', `/api/1/issues/${a.id}`, { assignedTo: 'bob@example.com', note: 'https://github.com/shop/app/issues/7' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.issues[0].assignedTo, 'bob@example.com');
    r = await api('GET', '/api/1/issues?assigned=bob@example.com&environment=staging');
    assert.deepEqual(r.body.issues.map((i) => i.id), [a.id]);
    r = await api('GET', '/api/1/issues?release=5.0.0&sort=users');
    assert.ok(r.body.issues.every((i) => i.id === a.id), JSON.stringify(r.body.issues.map((i) => i.title)));
    assert.equal(r.body.issues[0].sparkline_24h.length, 24);
    assert.equal(r.body.issues[0].sparkline_24h.at(-1), 2, 'this hour in the sparkline');
    r = await api('GET', '/api/1/issues?status=open');
    assert.equal(r.status, 400);
    // A body without a Content-Length is refused at the limit while it streams.
    const big = new ReadableStream({
      start(c) { for (let i = 0; i < 8; i++) c.enqueue(new TextEncoder().encode(' '.repeat(8192))); c.close(); },
    });
    const streamed = await fetch(`${w.base}/api/1/issues/${a.id}`, { method: 'PUT', headers: auth(), body: big, duplex: 'half' });
    assert.equal(streamed.status, 400);
    assert.match((await streamed.json()).detail, /larger than 16384 bytes/);
    r = await api('PUT', `/api/1/issues?id=${a.id}&id=${b.id}`, { merge: 1 });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.issues.length, 1);
    assert.equal(r.body.issues[0].id, a.id, 'merged into the bigger one');
    assert.equal(r.body.issues[0].count, 3);
    assert.equal(r.body.issues[0].userCount, 3);
    await send('merge-b');
    const merged = await eventually(async () => (await api('GET', `/api/1/issues/${a.id}`)).body.count === 4);
    assert.ok(merged, 'a new event of the merged fingerprint lands on the target: merges last');
    r = await api('GET', '/api/1/issues?query=merge-b');
    assert.equal(r.body.issues.length, 0, 'the merged-away issue is gone from the list');
    r = await api('PUT', `/api/1/issues?id=${a.id}`, { status: 'resolved' });
    assert.equal(r.status, 200);
    r = await api('GET', '/api/1/issues?status=resolved&query=merge-a');
    assert.equal(r.body.issues.length, 1, 'bulk resolve');
  });

  test('a time snooze wakes when it ends, without a new event', async () => {
    await send('nap');
    const issue = await eventually(() => issueOf('nap'));
    const until = new Date(Date.now() + 3_000).toISOString();
    const r = await api('PUT', `/api/1/issues/${issue.id}`, { status: 'ignored', statusDetails: { ignoreUntil: until } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal((await issueOf('nap')).status, 'ignored');
    await sleep(3_500);
    assert.equal((await issueOf('nap')).status, 'unresolved', 'the list wakes it');
    assert.ok(await eventually(() => slackFor('nap').find((a) => /snooze until/.test(a.body.text)), 15_000), 'wake alert');
  });

  test('threshold rules: N events in W minutes on an issue, and a drop rate on the cron', async () => {
    const current = await api('GET', '/api/1/alerts');
    assert.equal(current.body.defaults, true);
    const rules = [
      ...current.body.rules,
      { id: 'vol', name: '5 events in 10 min on vol', kind: 'event_volume', events: 5, window_min: 10, filter: { environment: 'vol' } },
      { id: 'drops', name: 'Drops above 1 %', kind: 'drop_rate', ratio_percent: 1 },
    ];
    let r = await api('PUT', '/api/1/alerts/rules', { rules: [...rules, { id: 'bad', name: 'x', kind: 'event_volume', events: 0, window_min: 10 }] });
    assert.equal(r.status, 400, 'a bad rule refuses the whole set');
    assert.match(r.body.detail, /rule 6/);
    r = await api('PUT', '/api/1/alerts/rules', { rules });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const four = [];
    for (let i = 0; i < 4; i++) four.push(await send('volume', { environment: 'vol' }));
    await stored(four);
    await sleep(STORM_WINDOW_MS + 1_000);
    const before = slackFor('volume').length;
    await send('volume', { environment: 'vol' });
    const vol = await eventually(() => slackFor('volume').slice(before).find((a) => /5 events/.test(a.body.text)), 15_000);
    assert.ok(vol, `volume alert; got ${JSON.stringify(slackFor('volume').map((a) => a.body.text.slice(0, 100)))}`);
    for (let i = 0; i < 10; i++) {
      const bad = await fetch(`${w.base}/api/1/store/?sentry_key=ffffffffffffffffffffffffffffffff`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      assert.equal(bad.status, 403);
    }
    const n = slack.alerts.length;
    const cron = await fetch(`${w.base}/__scheduled`);
    assert.equal(cron.status, 200);
    const drop = await eventually(() => slack.alerts.slice(n).find((a) => /dropped/i.test(a.body.text)), 15_000);
    assert.ok(drop, `drop-rate alert; got ${JSON.stringify(slack.alerts.slice(n).map((a) => a.body.text.slice(0, 100)))}`);
  });
});
