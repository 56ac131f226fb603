// The fault battery: nothing a user or a webhook sends disappears. A real `wrangler dev` runs
// with test-only fault windows (`BACKSTOP_FAULTS`, local only) that make the real bindings fail
// in turn: D1, then R2, then the rate limiter's Durable Object. Ingest only needs the queue:
// while D1 or R2 are down it keeps accepting and the consumer stores the events once they are
// back (a refusing queue, answered 503, is proven in pipeline.test.mjs). Meanwhile a customer's page on
// its own origin keeps capturing with the Backstop SDK (pinned script tag), the official Python
// sentry-sdk keeps capturing, and a webhook sender keeps posting to a guarded route whose origin
// is down (and whose alert sink fails). After recovery every id and every body is accounted for.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { join } from 'node:path';

import { startWorker, adminGet, eventually, ROOT } from './lib/harness.mjs';
import { launchBrowser, watchPage } from './lib/browser.mjs';
import { startSite } from './lib/site.mjs';
import { startOriginApp, startAlertSink } from './lib/origin-app.mjs';

const VERSION = '0.1.0';
const PYTHON = join(ROOT, 'target', 'pyenv', 'bin', 'python');
// Time for `wrangler dev`, Chromium and the page to come up before the first window opens
// (the windows are absolute times fixed when the worker starts).
const LEAD_MS = 30_000;
const WINDOW_MS = 8_000;
const GAP_MS = 4_000;
// Short, so the SDKs' retries fit the test: the default is 30 s.
const STORAGE_RETRY_AFTER_SECS = 2;
// Below the SDK's offline queue bound (30 envelopes) for a whole window.
const CAPTURE_EVERY_MS = 400;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sleepUntil = (t) => sleep(Math.max(0, t - Date.now()));
const sha256 = (b) => createHash('sha256').update(b).digest('hex');

const t0 = Date.now() + LEAD_MS;
const windows = {
  d1: { from: t0, until: t0 + WINDOW_MS },
  r2: { from: t0 + WINDOW_MS + GAP_MS, until: t0 + 2 * WINDOW_MS + GAP_MS },
  rate_limiter: { from: t0 + 2 * (WINDOW_MS + GAP_MS), until: t0 + 3 * WINDOW_MS + 2 * GAP_MS },
};
const faultsEnd = windows.rate_limiter.until;
const inWindow = (w, t) => w.from <= t && t < w.until;

let worker; let site; let browser; let app; let sink; let originPort;

before(async () => {
  app = await startOriginApp();
  originPort = app.port;
  sink = await startAlertSink();
  const routes = [{
    name: 'hooks', prefix: '/hooks/', origin: `http://127.0.0.1:${originPort}`, timeout_ms: 3000,
    retry_schedule: [2, 3, 4, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5],
  }];
  worker = await startWorker({
    vars: {
      BACKSTOP_FAULTS: JSON.stringify(windows),
      BACKSTOP_INGEST: JSON.stringify({ storage_retry_after_secs: STORAGE_RETRY_AFTER_SECS }),
      BACKSTOP_WEBHOOK_ROUTES: JSON.stringify(routes),
      BACKSTOP_ALERT_WEBHOOK_URL: sink.url,
      BACKSTOP_ALERT_WINDOW_SECS: '3600',
    },
  });
  browser = await launchBrowser();
  const js = Buffer.from(await (await fetch(`${worker.base}/sdk/v${VERSION}/backstop.js`)).arrayBuffer());
  const integrity = `sha384-${createHash('sha384').update(js).digest('base64')}`;
  const tag = `<script src="${worker.base}/sdk/v${VERSION}/backstop.js" integrity="${integrity}" crossorigin="anonymous" data-dsn="${worker.dsn}" data-release="shop@2"></script>`;
  // The page captures at a steady pace and records every id `captureMessage` returns. Every
  // fifth capture in the R2 window carries 70 KB of extras (over the 64 KiB inline limit: R2).
  const appJs = `
    window.__ledger = [];
    Backstop.init({ dsn: ${JSON.stringify(worker.dsn)}, release: 'shop@2', maxEvents: 1000 });
    window.__run = async function (plan) {
      await Backstop.load();
      for (var n = 0; Date.now() < plan.stopAt; n++) {
        var now = Date.now();
        var big = now >= plan.bigFrom && now < plan.bigUntil && n % 5 === 0;
        var i;
        if (big) for (i = 0; i < 5; i++) Backstop.setExtra('blob' + i, 'x'.repeat(14000));
        var id = Backstop.captureMessage('ledger ' + n);
        if (big) for (i = 0; i < 5; i++) Backstop.setExtra('blob' + i, undefined);
        window.__ledger.push({ id: id, n: n, big: big, at: now });
        await new Promise(function (r) { setTimeout(r, plan.every); });
      }
    };`;
  site = await startSite({
    routes: {
      '/': { body: `<!doctype html><html><head><meta charset="utf-8"><title>shop</title>${tag}<script src="/app.js"></script></head><body>shop</body></html>` },
      '/app.js': { body: appJs, type: 'text/javascript' },
    },
  });
});

after(async () => {
  if (process.env.FAULTS_LOG) (await import('node:fs')).writeFileSync(process.env.FAULTS_LOG, worker?.logs() ?? '');
  await browser?.close();
  await site?.close();
  await worker?.stop();
  await app?.close();
  await sink?.close();
});

/** Event ids in an envelope body (the header's and each event item's). */
function envelopeIds(body) {
  if (typeof body !== 'string') return [];
  const ids = [];
  for (const line of body.split('\n')) {
    if (!line.startsWith('{') || line.length > 2000) continue;
    try {
      const j = JSON.parse(line);
      if (typeof j.event_id === 'string') ids.push(j.event_id.replace(/-/g, ''));
    } catch { /* an item payload */ }
  }
  return [...new Set(ids)];
}

/** Every stored event whose message starts with `prefix`, by id with its count. */
async function stored(prefix) {
  const { events } = await adminGet(worker, `/api/1/events?limit=500&query=${encodeURIComponent(prefix)}`);
  const counts = new Map();
  for (const e of events) {
    if (!String(e.message ?? '').startsWith(prefix)) continue;
    counts.set(e.event_id, (counts.get(e.event_id) ?? 0) + 1);
  }
  return counts;
}

/** The Python SDK as a child process; resolves with its JSON lines once it exits. */
function runPython(plan) {
  const args = [join(ROOT, 'tests', 'clients', 'sentry_python_ledger.py'), worker.dsn,
    String(plan.stopAt), String(plan.bigFrom), String(plan.bigUntil), String(plan.every)];
  const child = spawn(PYTHON, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = ''; let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`sentry-python hung:\n${err.slice(-2000)}`)); }, plan.stopAt - Date.now() + 40_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`sentry-python exited ${code}:\n${err.slice(-3000)}`));
      resolve(out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)));
    });
  });
}

/**
 * A webhook sender as real providers behave: it retries on 5xx (and on a refused connection),
 * honouring `Retry-After` (capped at 2 s here so the test stays short), until a 2xx.
 */
async function sendWebhook(n, log, deadline) {
  const body = JSON.stringify({ n, from: 'billing@provider.example', pad: 'p'.repeat(512 + n) });
  const entry = { n, sha: sha256(body), attempts: [], final: null };
  log.push(entry);
  while (Date.now() < deadline) {
    let r;
    try {
      r = await fetch(`${worker.base}/hooks/event`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    } catch (e) {
      entry.attempts.push({ status: 0, at: Date.now(), error: String(e) });
      await sleep(1000);
      continue;
    }
    const text = await r.text();
    const attempt = { status: r.status, at: Date.now(), retryAfter: r.headers.get('retry-after'), id: r.headers.get('x-backstop-delivery-id') };
    entry.attempts.push(attempt);
    if (r.status >= 200 && r.status < 300) {
      entry.final = { ...attempt, body: text };
      return entry;
    }
    await sleep(Math.min(Number(attempt.retryAfter) || 1, 2) * 1000);
  }
  return entry;
}

test('fault ledger: D1, R2 and the rate limiter fail in turn; nothing sent disappears', { timeout: 240_000 }, async (t) => {
  assert.ok(Date.now() < t0 - 4000, `setup took too long: the first window opens in ${t0 - Date.now()} ms`);
  const page = await browser.newPage();
  const watch = watchPage(page);
  // What the browser was answered, with the ids each request carried.
  const answers = [];
  page.on('response', (r) => {
    const req = r.request();
    if (!r.url().startsWith(worker.base) || !/\/envelope\/|\/store\//.test(r.url())) return;
    answers.push({ status: r.status(), at: Date.now(), retryAfter: r.headers()['retry-after'], ids: envelopeIds(req.postData()) });
  });
  const requested = [];
  page.on('request', (req) => {
    if (req.url().startsWith(worker.base) && /\/envelope\/|\/store\//.test(req.url())) requested.push({ at: Date.now(), ids: envelopeIds(req.postData()) });
  });
  await page.goto(`${site.origin}/`);

  const start = t0 - 3000;
  const stopAt = faultsEnd + 2000;
  const plan = { stopAt, bigFrom: windows.r2.from, bigUntil: windows.r2.until, every: CAPTURE_EVERY_MS };
  await sleepUntil(start);
  const browserRun = page.evaluate((p) => window.__run(p), plan);
  const python = runPython({ ...plan, every: 300 });

  // Webhooks: one a second; the first ones pass, then the origin goes down for the whole fault
  // period (held, retried by the guard, or refused 503 while R2/D1 cannot keep them) and the
  // alert sink fails with it.
  const hooks = [];
  const sends = [];
  const hookDeadline = stopAt + 60_000;
  const sender = (async () => {
    for (let n = 0; Date.now() < faultsEnd; n++) {
      sends.push(sendWebhook(n, hooks, hookDeadline));
      await sleep(1000);
    }
  })();
  await sleep(2500);
  const deliveredBefore = app.requests;
  await app.close();
  sink.set({ mode: 'fail' });
  const downAt = Date.now();

  await sleepUntil(faultsEnd + 1000);
  app = await startOriginApp(originPort);
  sink.set({ mode: 'ok' });
  const upAt = Date.now();
  await sender;
  await browserRun;

  // --- Backstop SDK: every captured id stored exactly once. ---
  const ledger = await page.evaluate(() => window.__ledger);
  const ids = ledger.map((e) => e.id);
  assert.equal(new Set(ids).size, ids.length, 'captureMessage returned distinct ids');
  assert.ok(ledger.every((e) => /^[0-9a-f]{32}$/.test(e.id)), 'every capture returned an id');
  assert.ok(ledger.filter((e) => e.big).length >= 2, 'big events were captured in the R2 window');
  let ours = new Map();
  await eventually(async () => {
    ours = await stored('ledger ');
    return ids.every((id) => ours.has(id));
  }, 40_000, 1000);
  const missing = ids.filter((id) => !ours.has(id));
  if (missing.length && process.env.FAULTS_LOG) (await import('node:fs')).writeFileSync(process.env.FAULTS_LOG + '.py', JSON.stringify({ t0, windows, lines: await python }));
  const dupes = [...ours].filter(([, c]) => c > 1).map(([id]) => id);
  const strangers = [...ours.keys()].filter((id) => !ids.includes(id));
  const phase = (t) => Object.entries(windows).find(([, w]) => inWindow(w, t))?.[0] ?? 'between';
  const missingAt = ledger.filter((e) => missing.includes(e.id)).map((e) => `${e.n}@${phase(e.at)}:${answers.filter((a) => a.ids.includes(e.id)).map((a) => `${a.status}@${phase(a.at)}`).join('/') || (requested.some((q) => q.ids.includes(e.id)) ? 'requested, never answered' : 'never requested')}`);
  assert.deepEqual(missing, [], `captured but not stored (${missingAt.join(', ')}); answers: ${answers.map((a) => `${a.status}@${phase(a.at)}+${a.at - t0}`).join(' ')}:\n${watch.describe()}`);
  assert.deepEqual(dupes, [], 'stored twice');
  assert.deepEqual(strangers, [], 'stored but never captured');
  for (const e of ledger) {
    const d = await adminGet(worker, `/api/1/events/${e.id}`);
    assert.equal(d.event.message, `ledger ${e.n}`);
    if (e.big) assert.equal(d.payload.extra.blob4.length, 14000, 'a big event keeps its 70 KB payload (from R2)');
  }

  // What the browser was told, request by request.
  const sdk503 = answers.filter((a) => a.status === 503);
  const bigIds = new Set(ledger.filter((e) => e.big).map((e) => e.id));
  assert.ok(answers.some((a) => a.status === 200 && inWindow(windows.d1, a.at)), 'D1 down: still accepted (the queue holds the job)');
  assert.ok(answers.some((a) => a.status === 200 && inWindow(windows.r2, a.at) && a.ids.some((id) => bigIds.has(id))), 'R2 down: a big event still accepted');
  assert.deepEqual(sdk503.map((a) => a.at - t0), [], 'no 503: D1 and R2 outages are absorbed by the queue');
  const rlAnswers = answers.filter((a) => inWindow({ from: windows.rate_limiter.from + 300, until: windows.rate_limiter.until - 300 }, a.at));
  assert.ok(rlAnswers.length > 0 && rlAnswers.every((a) => a.status === 200), `rate limiter down: accepted (fail open): ${JSON.stringify(rlAnswers.map((a) => a.status))}`);
  assert.match(worker.logs(), /rate limiter unavailable, accepting/);
  const okIds = answers.filter((a) => a.status === 200).flatMap((a) => a.ids);
  assert.ok(okIds.length > 0, 'the envelopes name their event ids');
  const okUnstored = okIds.filter((id) => !ours.has(id));
  assert.deepEqual(okUnstored, [], '200 for an event that is not stored');
  assert.ok(answers.every((a) => [200, 503].includes(a.status)), `only 200 and 503: ${[...new Set(answers.map((a) => a.status))]}`);

  // --- sentry-python: stored, or dropped by the SDK on a 503 and counted in its client report. ---
  const lines = await python;
  if (process.env.FAULTS_LOG) (await import('node:fs')).writeFileSync(process.env.FAULTS_LOG + '.py', JSON.stringify({ t0, windows, lines }));
  const pyCaptured = lines.filter((l) => l.captured).map((l) => l.captured);
  const pyAnswers = lines.filter((l) => 'status' in l);
  const py503 = pyAnswers.filter((a) => a.status === 503);
  const pyDroppedIds = py503.flatMap((a) => a.event_ids);
  const pyOkIds = pyAnswers.filter((a) => a.status === 200).flatMap((a) => a.event_ids);
  assert.ok(pyCaptured.length > 50 && new Set(pyCaptured).size === pyCaptured.length, 'distinct ids');
  assert.equal(py503.length, 0, 'the Python SDK saw no 503: the outages are absorbed by the queue');
  assert.ok(pyAnswers.every((a) => [200, 503].includes(a.status)), `Python SDK answers: ${[...new Set(pyAnswers.map((a) => a.status))]}`);
  const pyStored = await stored('py ledger ');
  assert.deepEqual([...pyStored].filter(([, c]) => c > 1), [], 'stored twice');
  assert.deepEqual(pyOkIds.filter((id) => !pyStored.has(id)), [], '200 for an event that is not stored');
  // The SDK does not retry a 503: each such event is either stored (never here) or dropped and
  // counted as network_error; nothing else happens to any id.
  const pyMissing = pyCaptured.filter((id) => !pyStored.has(id));
  assert.deepEqual(pyMissing.sort(), [...pyDroppedIds].sort(), 'every id not stored is one the SDK saw refused with 503');
  assert.equal(pyStored.size + pyDroppedIds.length, pyCaptured.length, 'captured = stored + dropped');
  const sentReports = lines.filter((l) => l.status === 200).flatMap((l) => l.discarded);
  const reportedSdk = sentReports.filter((d) => d.reason === 'network_error' && d.category === 'error').reduce((s, d) => s + d.quantity, 0);
  const stats = await eventually(async () => {
    const s = await adminGet(worker, '/api/1/stats');
    return s.pipeline.stored >= s.pipeline.queued ? s : null;
  }, 60_000, 1000);
  const counted = (stats.client_discarded ?? []).filter((d) => d.reason === 'network_error' && d.category === 'error').reduce((s, d) => s + d.quantity, 0);
  assert.equal(counted, reportedSdk, 'the worker counted every drop the SDK reported in a report it accepted');
  assert.ok(reportedSdk <= pyDroppedIds.length, 'no more drops reported than happened');

  // --- Webhooks: delivered exactly once, or visibly held; never gone. ---
  await Promise.all(sends);
  const delivered = () => [...deliveredBefore, ...app.requests].filter((r) => r.url.startsWith('/hooks/'));
  await eventually(async () => {
    await fetch(`${worker.base}/cdn-cgi/local/scheduled`);
    const got = new Set(delivered().map((r) => r.sha256));
    return hooks.every((h) => got.has(h.sha));
  }, 45_000, 2000);
  const listed = (await adminGet(worker, '/api/webhooks/deliveries?limit=500')).deliveries;
  const byId = new Map(listed.map((d) => [d.id, d]));
  let deliveredN = 0; let heldN = 0; const lost = [];
  for (const h of hooks) {
    const copies = delivered().filter((r) => r.sha256 === h.sha).length;
    assert.ok(copies <= 1, `webhook ${h.n} delivered ${copies} times`);
    assert.ok(h.final, `webhook ${h.n} was never answered 2xx: ${JSON.stringify(h.attempts)}`);
    if (h.final.status === 202) assert.ok(byId.has(h.final.id), `webhook ${h.n}: 202 held for a delivery that is not listed`);
    const row = byId.get(h.final.id);
    if (copies === 1) deliveredN++;
    else if (row && ['held', 'failed'].includes(row.status)) heldN++;
    else lost.push({ n: h.n, final: h.final, row });
  }
  assert.deepEqual(lost, [], 'webhooks neither delivered nor held');
  const hook503 = hooks.flatMap((h) => h.attempts).filter((a) => a.status === 503);
  // The guard keeps bodies in R2 and rows in D1 itself (no queue in between).
  assert.ok(hook503.some((a) => inWindow(windows.d1, a.at)) && hook503.some((a) => inWindow(windows.r2, a.at)), 'the sender was told 503 while D1 and R2 were down');
  assert.ok(hook503.every((a) => Number(a.retryAfter) > 0), 'every webhook 503 has Retry-After');
  assert.ok(hooks.some((h) => h.final.status === 202), 'some webhooks were held while the origin was down');

  // The alert sink was down: the alert is recorded as failed, once, and nothing loops.
  const { alerts } = await adminGet(worker, '/api/webhooks/alerts');
  assert.ok(alerts.length >= 1 && alerts.some((a) => a.status === 'failed'), `alert recorded: ${JSON.stringify(alerts)}`);
  const sinkCalls = sink.alerts.length;
  assert.ok(sinkCalls <= alerts.length, `the sink was called ${sinkCalls} times for ${alerts.length} alerts`);
  await sleep(3000);
  assert.equal(sink.alerts.length, sinkCalls, 'no alert retried in a loop');
  assert.equal((await adminGet(worker, '/api/webhooks/alerts')).alerts.length, alerts.length, 'no new alerts without new holds');

  const summary = `fault ledger: backstop sdk captured ${ids.length}, stored ${ids.length - missing.length} (dupes ${dupes.length}, missing ${missing.length}); `
    + `sentry-python captured ${pyCaptured.length}, stored ${pyStored.size}, dropped-on-503 ${pyDroppedIds.length}, dropped-and-reported ${counted}; `
    + `webhooks sent ${hooks.length}, delivered ${deliveredN}, held ${heldN}, lost ${lost.length}; `
    + `503s during faults ${sdk503.length + py503.length + hook503.length} (sdk ${sdk503.length}, python ${py503.length}, webhook ${hook503.length}), 200s for unstored ${okUnstored.length}; `
    + `origin down ${Math.round((upAt - downAt) / 1000)} s`;
  console.log(summary);
  t.diagnostic(summary);
});
