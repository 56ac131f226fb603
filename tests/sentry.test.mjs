// Drop-in compatibility: the official @sentry/browser SDK, changed only by its DSN, reports to the
// real Backstop worker (workerd) from a page in real headless Chromium.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startWorker, adminGet, eventually, waitStored, waitJobs, DEV_PUBLIC_KEY, ROOT } from './lib/harness.mjs';
import { launchBrowser, watchPage } from './lib/browser.mjs';
import { sentryBundle, servePage, SENTRY_VERSION } from './lib/sentry.mjs';

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>app using @sentry/browser</title>
<script src="/sentry.js"></script></head><body><button id="buy">Buy</button></body></html>`;

// Set RECORD_FIXTURES=1 to rewrite tests/fixtures/sentry-browser-<version>/ from this run.
const RECORD = process.env.RECORD_FIXTURES === '1';
const FIXTURES = join(ROOT, 'tests', 'fixtures', `sentry-browser-${SENTRY_VERSION}`);

async function hideAndFlush(page) {
  // Client reports are flushed when the page is hidden.
  await page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
  });
}

describe('@sentry/browser against Backstop', () => {
  let w, site, browser;
  before(async () => {
    const bundle = await sentryBundle();
    [w, site, browser] = await Promise.all([startWorker(), servePage(PAGE, bundle), launchBrowser()]);
  });
  after(async () => {
    await browser?.close();
    await site?.close();
    await w?.stop();
  });

  async function openPage(init) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const log = watchPage(page);
    const envelopes = [];
    page.on('request', (r) => {
      if (r.method() === 'POST' && /\/(envelope\/|tunnel)/.test(r.url())) envelopes.push(r.postDataBuffer());
    });
    await page.goto(`${site.origin}/`);
    await page.evaluate(init, { dsn: `http://${DEV_PUBLIC_KEY}@127.0.0.1:${w.port}/1`, base: w.base });
    return { page, log, envelopes, close: () => context.close() };
  }

  test('exceptions, messages, breadcrumbs, user and uncaught errors arrive with their fields', async () => {
    const { page, log, envelopes, close } = await openPage(({ dsn }) => {
      window.Sentry.init({ dsn, release: 'shop@2.0.0', environment: 'e2e', sampleRate: 1 });
      window.Sentry.setUser({ id: 'u1', email: 'ann@example.com' });
      window.Sentry.setTag('plan', 'gold');
    });
    const ids = await page.evaluate(async () => {
      const S = window.Sentry;
      S.addBreadcrumb({ category: 'ui', message: 'opened cart', level: 'info' });
      console.warn('stock low');
      document.getElementById('buy').click();
      function chargeCard() { throw new TypeError('card declined by issuer'); }
      let exceptionId;
      try { chargeCard(); } catch (e) { exceptionId = S.captureException(e); }
      const messageId = S.captureMessage('checkout finished with warnings', 'warning');
      setTimeout(() => { throw new RangeError('uncaught in timer'); }, 0);
      await new Promise((r) => setTimeout(r, 300));
      await S.flush(3000);
      return { exceptionId, messageId };
    });
    const find = async (q) => (await eventually(async () => (await adminGet(w, `/api/1/events?query=${encodeURIComponent(q)}`)).events[0]))?.event_id;

    const [exception, message] = await waitStored(w, [ids.exceptionId, ids.messageId].map((id) => id.replace(/-/g, ''))) ?? [];
    assert.ok(exception && message, `the exception and the message stored: ${log.describe()}`);
    assert.equal(exception.event.type, 'TypeError', log.describe());
    assert.equal(exception.event.message, 'card declined by issuer');
    assert.equal(exception.event.user_email, 'ann@example.com');
    assert.equal(exception.event.release, 'shop@2.0.0');
    assert.equal(exception.event.environment, 'e2e');
    assert.equal(exception.event.tags.plan, 'gold');
    assert.ok(exception.event.frames.some((f) => f.function === 'chargeCard'), JSON.stringify(exception.event.frames));
    const rawCrumbs = exception.payload.breadcrumbs;
    const crumbs = Array.isArray(rawCrumbs) ? rawCrumbs : rawCrumbs.values;
    assert.ok(crumbs.some((b) => b.message === 'opened cart'), 'manual breadcrumb');
    assert.ok(crumbs.some((b) => b.category === 'console' && /stock low/.test(b.message)), 'console breadcrumb');
    assert.ok(crumbs.some((b) => b.category === 'ui.click'), 'click breadcrumb');
    assert.equal(exception.payload.sdk.name, 'sentry.javascript.browser');

    assert.equal(message.event.message, 'checkout finished with warnings');
    assert.equal(message.event.level, 'warning');
    assert.equal(message.event.kind, 'message');

    const uncaughtId = await find('uncaught in timer');
    assert.ok(uncaughtId, 'the uncaught error arrived');
    const uncaught = await adminGet(w, `/api/1/events/${uncaughtId}`);
    assert.equal(uncaught.event.type, 'RangeError');

    const { issues } = await adminGet(w, '/api/1/issues');
    assert.ok(issues.some((i) => i.title === 'TypeError: card declined by issuer'));
    // The job's counters are written just after its events.
    const { items } = await eventually(async () => {
      const st = await adminGet(w, '/api/1/stats');
      return st.items.event >= 3 ? st : null;
    }) ?? await adminGet(w, '/api/1/stats');
    assert.ok(items.event >= 3, JSON.stringify(items));

    if (RECORD) {
      mkdirSync(FIXTURES, { recursive: true });
      envelopes.forEach((body, i) => writeFileSync(join(FIXTURES, `capture-${i}.envelope`), body));
    }
    await close();
  });

  test('its client reports (beforeSend drops) show up in the drop stats', async () => {
    const { page, close } = await openPage(({ dsn }) => {
      window.Sentry.init({
        dsn,
        sampleRate: 1,
        beforeSend: (event) => (String(event.message).startsWith('drop me') ? null : event),
      });
    });
    await page.evaluate(async () => {
      window.Sentry.captureMessage('drop me 1');
      window.Sentry.captureMessage('drop me 2');
      window.Sentry.captureMessage('keep me');
      await window.Sentry.flush(2000);
    });
    await hideAndFlush(page);
    const discarded = await eventually(async () => {
      const { client_discarded } = await adminGet(w, '/api/1/stats');
      return client_discarded.find((d) => d.reason === 'before_send' && d.quantity >= 2);
    });
    assert.ok(discarded, 'before_send discards counted');
    const { items } = await adminGet(w, '/api/1/stats');
    assert.ok(items.client_report >= 1);
    await close();
  });

  test('the dashboard shows the SDK client reports, the user and the breadcrumbs', async () => {
    const { events } = await adminGet(w, '/api/1/events?query=card%20declined');
    assert.ok(events.length >= 1);
    const context = await browser.newContext();
    const page = await context.newPage();
    const log = watchPage(page);
    await page.goto(`${w.base}/#token=${w.adminToken}`);
    await page.waitForSelector('#client-drops tbody tr', { timeout: 10_000 });
    assert.match(await page.textContent('#client-drops'), /before_send/);
    assert.match(await page.textContent('#sessions'), /shop@2\.0\.0/);
    await page.click(`#events tbody tr[data-event-id="${events[0].event_id}"]`);
    await page.waitForSelector(`#event-detail[data-event-id="${events[0].event_id}"]`);
    await page.waitForSelector('#detail-breadcrumbs tbody tr');
    assert.match(await page.textContent('#detail-breadcrumbs'), /opened cart/);
    assert.match(await page.textContent('#detail-breadcrumbs'), /stock low/);
    assert.match(await page.textContent('#detail-user'), /ann@example\.com/);
    assert.deepEqual(log.pageErrors, [], log.describe());
    await context.close();
  });

  test('sessions are counted per release', async () => {
    const { page, close } = await openPage(({ dsn }) => {
      window.Sentry.init({ dsn, release: 'health@1.0.0' });
    });
    await page.evaluate(() => window.Sentry.flush(2000));
    const session = await eventually(async () => {
      const { sessions } = await adminGet(w, '/api/1/stats');
      return sessions.find((s) => s.release === 'health@1.0.0' && s.started >= 1);
    });
    assert.ok(session, 'a started session for the release');
    assert.equal(session.crash_free_rate, 1);
    await close();
  });

  test('the tunnel option reaches the same ingest, checked by the envelope DSN', async () => {
    const { page, envelopes, close } = await openPage(({ dsn, base }) => {
      window.Sentry.init({ dsn, tunnel: `${base}/tunnel` });
    });
    const id = await page.evaluate(async () => {
      const id = window.Sentry.captureMessage('sent through the tunnel');
      await window.Sentry.flush(2000);
      return id;
    });
    assert.ok(envelopes.length >= 1, 'the SDK posted to the tunnel');
    const detail = await eventually(async () => {
      const r = await fetch(`${w.base}/api/1/events/${id}`, { headers: { Authorization: `Bearer ${w.adminToken}` } });
      return r.ok ? r.json() : null;
    });
    assert.equal(detail?.event.message, 'sent through the tunnel');
    // A tunnel envelope for another project or key is refused.
    const forged = `{"dsn":"http://ffffffffffffffffffffffffffffffff@127.0.0.1:${w.port}/1"}\n{"type":"event"}\n{"message":"x"}\n`;
    const r = await fetch(`${w.base}/tunnel`, { method: 'POST', body: forged });
    assert.equal(r.status, 403);
    const noDsn = await fetch(`${w.base}/tunnel`, { method: 'POST', body: '{}\n{"type":"event"}\n{}\n' });
    assert.equal(noDsn.status, 401);
    await close();
  });
});

describe('@sentry/browser against a rate-limited Backstop', () => {
  let w, site, browser;
  before(async () => {
    const bundle = await sentryBundle();
    const projects = JSON.stringify({ 1: { public_key: DEV_PUBLIC_KEY, rate_limit: { burst: 2, per_second: 0.5 } } });
    [w, site, browser] = await Promise.all([startWorker({ vars: { BACKSTOP_PROJECTS: projects } }), servePage(PAGE, bundle), launchBrowser()]);
  });
  after(async () => {
    await browser?.close();
    await site?.close();
    await w?.stop();
  });

  test('the SDK stops sending for the Retry-After period and reports its backoff drops', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    let posts = 0;
    page.on('request', (r) => { if (r.method() === 'POST' && r.url().includes('/envelope/')) posts += 1; });
    await page.goto(`${site.origin}/`);
    await page.evaluate(async (dsn) => {
      window.Sentry.init({ dsn, autoSessionTracking: false, integrations: (d) => d.filter((i) => i.name !== 'BrowserSession') });
      for (let i = 0; i < 8; i += 1) {
        window.Sentry.captureMessage(`burst ${i}`);
        await window.Sentry.flush(1000);
      }
    }, `http://${DEV_PUBLIC_KEY}@127.0.0.1:${w.port}/1`);
    // `accepted` is counted by the queue consumer, with the job: wait for the two accepted jobs.
    const { totals } = await waitJobs(w, 2);
    assert.equal(totals.accepted, 2, JSON.stringify(totals));
    assert.ok(posts <= 3, `the SDK held back after the limit (${posts} posts for 8 events)`);

    // The limit was announced for 2 s (one token at 0.5/s): after it, the SDK sends again.
    const postsBefore = posts;
    const id = await page.evaluate(async () => {
      await new Promise((r) => setTimeout(r, 2600));
      const id = window.Sentry.captureMessage('after the retry-after period');
      await window.Sentry.flush(2000);
      return id;
    });
    assert.equal(posts, postsBefore + 1, 'one request once the period is over');
    const [after] = await waitStored(w, [id]) ?? [];
    assert.ok(after, `event ${id} stored by the consumer`);
    assert.equal(after.event.message, 'after the retry-after period');
    // Stored after the burst's requests: the two accepted above were all of them.
    const { totals: later } = await waitJobs(w, 3);
    assert.equal(later.accepted, 3, JSON.stringify(later));

    // What it dropped while backing off arrives in its client report, once the limit that the
    // last 200 announced again (it took the last token) has passed.
    await page.waitForTimeout(2600);
    await hideAndFlush(page);
    const backoff = await eventually(async () => {
      const { client_discarded } = await adminGet(w, '/api/1/stats');
      return client_discarded.find((d) => d.reason === 'ratelimit_backoff');
    });
    assert.ok(backoff && backoff.quantity >= 5, `ratelimit_backoff drops reported: ${JSON.stringify(backoff)}`);
    await context.close();
  });
});
