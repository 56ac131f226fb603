// The triage dashboard end to end: the real worker (wrangler dev), events sent as a Sentry client
// sends them, the page driven in headless Chromium, and what the page did checked through the
// API. Also: the vendored browser libraries are the npm packages' files, byte for byte.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { startWorker, eventually, waitStored, ROOT } from './lib/harness.mjs';
import { launchBrowser, watchPage, waitFor } from './lib/browser.mjs';
import { startAlertSink } from './lib/origin-app.mjs';
import { sendEvent } from './lib/events.mjs';

const VENDORED = [
  ['web-demo/vendor/preact.mjs', 'node_modules/preact/dist/preact.mjs'],
  ['web-demo/vendor/htm.mjs', 'node_modules/htm/dist/htm.mjs'],
  ['web-demo/vendor/uPlot.esm.js', 'node_modules/uplot/dist/uPlot.esm.js'],
  ['web-demo/vendor/uPlot.min.css', 'node_modules/uplot/dist/uPlot.min.css'],
];

test('the vendored libraries are the pinned npm files, unchanged', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const readme = readFileSync(join(ROOT, 'web-demo/vendor/README.md'), 'utf8');
  for (const name of ['preact', 'htm', 'uplot']) {
    const version = pkg.devDependencies[name];
    assert.match(version ?? '', /^\d+\.\d+\.\d+$/, `${name} is pinned exactly in package.json`);
    const installed = JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
    assert.equal(installed, version, `node_modules has ${name} ${version} (run npm ci)`);
    assert.ok(readme.includes(`| ${name} | ${version} |`), `vendor/README.md names ${name} ${version}`);
  }
  for (const [copy, source] of VENDORED) {
    assert.ok(readFileSync(join(ROOT, copy)).equals(readFileSync(join(ROOT, source))), `${copy} equals ${source}`);
  }
});

const HOSTILE = '<img src=x onerror="window.__xss=1">';
const KEY = 'd0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0';

describe('triage dashboard', () => {
  let w; let sink; let browser;
  const issues = {};
  const auth = () => ({ Authorization: `Bearer ${w.adminToken}`, 'content-type': 'application/json' });
  const api = async (path, init = {}) => {
    const r = await fetch(`${w.base}${path}`, { ...init, headers: { ...auth(), ...(init.headers ?? {}) } });
    const body = await r.json();
    assert.ok(r.ok, `${path} -> ${r.status} ${JSON.stringify(body)}`);
    return body;
  };
  const issue = async (id) => api(`/api/1/issues/${id}`);
  const send = (group, extra = {}) => sendEvent(w, group, extra);

  /** A page on the dashboard with the token, the acting member chosen and errors recorded. */
  const open = async (hash = '') => {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const page = await context.newPage();
    const log = watchPage(page);
    await page.goto(`${w.base}/?project=1#token=${encodeURIComponent(w.adminToken)}${hash ? '&' + hash : ''}`, { waitUntil: 'load' });
    // (Preact sets an option's value as a property, so there is no value attribute to select.)
    await page.waitForFunction(() => [...document.querySelectorAll('#actor option')].some((o) => o.value === 'alice@example.com'), null, { timeout: 15_000 })
      .catch(async (e) => { throw new Error(`${e.message}\n${log.describe()}\npage: ${(await page.locator('body').innerText()).slice(0, 500)}`); });
    await page.selectOption('#actor', 'alice@example.com');
    return { context, page, log };
  };
  const row = (page, id) => page.locator(`#issues tbody tr[data-issue-id="${id}"]`);
  /** Resolves after the page finished `n` more refreshes. */
  const refreshes = async (page, n = 1) => {
    const start = await page.evaluate(() => window.backstopDashboard.state.lastOk);
    let seen = start;
    for (let i = 0; i < n; i++) {
      const prev = seen;
      seen = await waitFor(async () => {
        const now = await page.evaluate(() => window.backstopDashboard.state.lastOk);
        return now !== prev ? now : false;
      }, { what: 'a dashboard refresh', timeout: 15_000 });
    }
  };
  /** `receipt404s`: how many receipt polls answered 404 "not stored yet" (the browser logs each as an error). */
  const clean = async (page, log, what, { receipt404s = 0 } = {}) => {
    const state = await page.evaluate(() => ({
      xss: window.__xss,
      injected: document.querySelectorAll('img, svg[onload], script:not([src])').length,
      jsLinks: [...document.querySelectorAll('[href]')].filter((e) => /^\s*javascript:/i.test(e.getAttribute('href'))).length,
    }));
    assert.equal(state.xss, undefined, `${what}: hostile text ran\n${log.describe()}`);
    assert.equal(state.injected, 0, `${what}: elements injected`);
    assert.equal(state.jsLinks, 0, `${what}: javascript: links`);
    assert.deepEqual(log.dialogs, [], `${what}: dialogs`);
    assert.deepEqual(log.pageErrors, [], `${what}: page errors\n${log.describe()}`);
    // A refused change (400) is logged by the browser as a failed resource; anything else is not expected.
    let notYet = receipt404s;
    const errors = log.console.filter((l) => /Content Security Policy|^error:/i.test(l) && !/status of 400/.test(l))
      .filter((l) => !(notYet > 0 && /status of 404/.test(l) && notYet--));
    assert.deepEqual(errors, [], `${what}: console errors / CSP violations`);
  };

  before(async () => {
    sink = await startAlertSink();
    sink.set({ mode: 'fail' });
    // New-issue alerts wait in a storm batch for its window: a short one keeps the test quick.
    w = await startWorker({ vars: { BACKSTOP_ALERT_STORM: JSON.stringify({ max_individual: 10, window_ms: 1_000 }) } });
    await api('/api/1/alerts/destinations/ops-slack', { method: 'PUT', body: JSON.stringify({ kind: 'slack', url: sink.url }) });
    const sent = [];
    for (let i = 0; i < 3; i++) {
      sent.push(await send('checkout', { release: '1.2.0', environment: 'production', user: { id: `u${i}` }, tags: { browser: 'Chrome 120' }, request: { url: 'https://shop.example/checkout' } }));
    }
    for (const g of ['login', 'search', 'cart', 'profile']) sent.push(await send(g));
    sent.push(await send('hostile', { exception: { values: [{ type: 'TypeError', value: `${HOSTILE} hostile broke` }] } }));
    assert.ok(await waitStored(w, sent), 'the consumer stored the 8 events sent');
    const list = (await api('/api/1/issues')).issues;
    for (const g of ['checkout', 'login', 'search', 'cart', 'profile', 'hostile']) {
      issues[g] = list.find((i) => i.title.includes(`${g} broke`));
      assert.ok(issues[g], `issue ${g} in ${JSON.stringify(list.map((i) => i.title))}`);
    }
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await w?.stop();
    await sink?.close();
  });

  test('GET /api/{project}/team lists the project\'s team behind the admin token', async () => {
    assert.deepEqual((await api('/api/1/team')).team, ['alice@example.com', 'bob@example.com', 'carol@example.com']);
    const r = await fetch(`${w.base}/api/1/team`);
    assert.equal(r.status, 401);
  });

  test('the list shows every unresolved issue with level, substatus, counts, users and a 24 h sparkline', async () => {
    const { context, page, log } = await open();
    try {
      const checkout = row(page, issues.checkout.id);
      await checkout.waitFor({ timeout: 15_000 });
      assert.equal(await page.locator('#issues tbody tr').count(), 6);
      assert.equal(await checkout.locator('.issue-title').textContent(), issues.checkout.title);
      assert.equal(await checkout.locator('.substatus').textContent(), 'new');
      assert.equal(await checkout.locator('.issue-count').textContent(), '3');
      assert.equal(await checkout.locator('.issue-users').textContent(), '3');
      const points = (await checkout.locator('svg.sparkline').getAttribute('data-points')).split(',').map(Number);
      assert.equal(points.length, 24);
      assert.equal(points.at(-1), 3, 'this hour is the last bar');
      assert.equal(await checkout.locator('svg.sparkline rect').count(), 24);
      assert.match(await page.locator('.tab[data-tab="unresolved"] .tab-count').textContent(), /^6$/);
      // The stats charts are drawn.
      assert.equal(await page.locator('#chart-events .uplot canvas').count(), 1);
      assert.equal(await page.locator('#chart-drops .uplot canvas').count(), 1);
      await clean(page, log, 'list');
      await page.screenshot({ path: '/tmp/dashboard-list.png', fullPage: true });
    } finally {
      await context.close();
    }
  });

  test('the hostile title stays text in the list and on its issue page', async () => {
    const { context, page, log } = await open();
    try {
      const r = row(page, issues.hostile.id);
      await r.waitFor({ timeout: 15_000 });
      assert.ok((await r.locator('.issue-title').textContent()).includes(HOSTILE));
      await r.locator('.issue-title').click();
      await page.waitForSelector('#issue-detail .issue-detail-title');
      assert.ok((await page.textContent('#issue-detail .issue-detail-title')).includes(HOSTILE));
      await page.waitForSelector('#issue-detail #detail-body');
      await refreshes(page, 1);
      await clean(page, log, 'hostile issue page');
    } finally {
      await context.close();
    }
  });

  test('selection, focus and an open menu survive refreshes; snooze from the menu sends ignoreCount', async () => {
    const { context, page, log } = await open();
    try {
      const r = row(page, issues.profile.id);
      await r.waitFor({ timeout: 15_000 });
      await r.locator('input.issue-select').check();
      await page.click('#bulk-bar [data-menu="snooze"]');
      const item = page.locator('#bulk-bar .menu [data-snooze="c10"]');
      await item.focus();
      // Mark the row's element: a rebuilt table would drop the mark.
      await r.evaluate((el) => { el.dataset.mark = 'kept'; });
      await refreshes(page, 2);
      assert.equal(await r.getAttribute('data-mark'), 'kept', 'the row element was patched, not rebuilt');
      assert.equal(await r.locator('input.issue-select').isChecked(), true, 'still selected');
      assert.equal(await page.locator('#bulk-bar').getAttribute('data-selected'), '1');
      assert.equal(await item.isVisible(), true, 'the menu is still open');
      assert.equal(await item.evaluate((el) => el === document.activeElement), true, 'focus kept');
      await item.click();
      const snoozed = await eventually(async () => {
        const i = await issue(issues.profile.id);
        return i.status === 'ignored' ? i : null;
      });
      assert.ok(snoozed, 'ignored through the API');
      assert.equal(snoozed.statusDetails.ignoreCount, 10);
      assert.ok(snoozed.activity.some((a) => a.kind === 'ignored' && a.actor === 'alice@example.com'), JSON.stringify(snoozed.activity));
      await waitFor(async () => (await r.count()) === 0, { what: 'the snoozed issue leaves the Unresolved tab' });
      await page.click('.tab[data-tab="ignored"]');
      await row(page, issues.profile.id).waitFor({ timeout: 15_000 });
      assert.match(await row(page, issues.profile.id).locator('.status-badge').textContent(), /10 more events/);
      await clean(page, log, 'snooze');
    } finally {
      await context.close();
    }
  });

  test('bulk resolve two issues', async () => {
    const { context, page, log } = await open();
    try {
      for (const g of ['login', 'search']) {
        await row(page, issues[g].id).waitFor({ timeout: 15_000 });
        await row(page, issues[g].id).locator('input.issue-select').check();
      }
      assert.equal(await page.locator('#bulk-bar').getAttribute('data-selected'), '2');
      await page.click('#bulk-bar [data-menu="resolve"]');
      await page.click('#bulk-bar .menu [data-action="resolve-now"]');
      const done = await eventually(async () => {
        const both = await Promise.all([issue(issues.login.id), issue(issues.search.id)]);
        return both.every((i) => i.status === 'resolved') ? both : null;
      });
      assert.ok(done, 'both resolved');
      await waitFor(async () => (await row(page, issues.login.id).count()) === 0 && (await row(page, issues.search.id).count()) === 0,
        { what: 'resolved issues leave the list' });
      // A bad release name is refused with the API's own words.
      await row(page, issues.cart.id).locator('input.issue-select').check();
      await page.click('#bulk-bar [data-menu="resolve"]');
      await page.fill('#bulk-bar .menu input[name="release"]', 'x'.repeat(300));
      await page.click('#bulk-bar .menu [data-action="resolve-in"]');
      await page.waitForSelector('#notice[data-status="400"]');
      assert.match(await page.textContent('#notice'), /^400 Refused: /);
      assert.equal((await issue(issues.cart.id)).status, 'unresolved');
      await clean(page, log, 'bulk resolve');
    } finally {
      await context.close();
    }
  });

  test('the issue page shows status, activity, the hourly chart with the ceiling, tags, users, note and assignment', async () => {
    const { context, page, log } = await open();
    try {
      await row(page, issues.checkout.id).waitFor({ timeout: 15_000 });
      await row(page, issues.checkout.id).locator('.issue-title').click();
      await page.waitForSelector('#issue-detail #issue-activity');
      assert.match(page.url(), new RegExp(`#issue=${issues.checkout.id}$`));
      assert.equal(await page.textContent('#issue-status'), 'Unresolved');
      assert.equal(await page.textContent('#issue-users'), '3');
      assert.ok((await page.locator('#issue-activity [data-kind="first_seen"]').count()) === 1, 'first seen in the activity');
      assert.equal(await page.locator('#issue-chart .uplot canvas').count(), 1, 'hourly chart drawn');
      assert.match(await page.textContent('#issue-chart .u-legend'), /Escalation ceiling/);
      assert.match(await page.textContent('#issue-tags [data-tag="release"]'), /1\.2\.0\s*3/);
      assert.match(await page.textContent('#issue-tags [data-tag="browser"]'), /Chrome 120/);
      assert.match(await page.textContent('#issue-tags [data-tag="url"]'), /shop\.example\/checkout/);
      await page.waitForSelector('#issue-detail #detail-body #detail-headline');
      assert.match(await page.textContent('#detail-headline'), /checkout broke/);

      await page.selectOption('[data-assign="detail"]', 'bob@example.com');
      await page.fill('#note-input', 'https://github.com/shop/app/issues/7');
      await page.click('#issue-note button[type="submit"]');
      const changed = await eventually(async () => {
        const i = await issue(issues.checkout.id);
        return i.assignedTo === 'bob@example.com' && i.note.includes('issues/7') ? i : null;
      });
      assert.ok(changed, 'assigned and noted through the API');
      await page.waitForSelector('#issue-activity [data-kind="assigned"]');
      assert.match(await page.textContent('#issue-activity [data-kind="assigned"]'), /alice@example\.com/);
      assert.equal(await page.getAttribute('#issue-note a.note-link', 'href'), 'https://github.com/shop/app/issues/7');

      await page.click('#issue-detail [data-menu="resolve"]');
      await page.click('#issue-detail .menu [data-action="resolve-next"]');
      await waitFor(async () => /next release/.test(await page.textContent('#issue-status')), { what: 'resolved in the next release' });
      assert.equal((await issue(issues.checkout.id)).statusDetails.inNextRelease, true);
      await clean(page, log, 'issue page');
      await page.screenshot({ path: '/tmp/dashboard-issue.png', fullPage: true });
    } finally {
      await context.close();
    }
  });

  test('the alerts page shows rules, a destination, and a held alert with its attempt log', async () => {
    const { context, page, log } = await open('alerts');
    try {
      await page.waitForSelector('#alert-destinations tr[data-destination-id="ops-slack"]', { timeout: 15_000 });
      assert.equal(await page.locator('#alert-rules tr[data-rule-id]').count(), 4, 'the four default rules');
      const held = page.locator('#alert-outbox tr[data-alert-id][data-alert-status="pending"], #alert-outbox tr[data-alert-id][data-alert-status="failed"]').first();
      await held.waitFor({ timeout: 30_000 });
      assert.match(await held.textContent(), /answered 500/);
      await held.click();
      const id = await held.getAttribute('data-alert-id');
      await page.waitForSelector(`tr[data-attempts-for="${id}"] .attempt-log li`);
      assert.match(await page.textContent(`tr[data-attempts-for="${id}"]`), /#1.*500/s);

      // Disable a rule with its checkbox: saved through the API.
      await page.locator('#alert-rules tr[data-rule-id="regression"] input.rule-enabled').uncheck();
      const saved = await eventually(async () => {
        const a = await api('/api/1/alerts');
        return a.rules.find((r) => r.id === 'regression' && r.enabled === false);
      });
      assert.ok(saved, 'the rule is disabled');

      // Add a destination and send it a test: a new outbox row for it.
      await page.fill('#dest-id', 'hook');
      await page.selectOption('#dest-kind', 'webhook');
      await page.fill('#dest-url', sink.url.replace('/slack', '/hook'));
      await page.fill('#dest-secret', 'whsec-dashboard-test');
      await page.click('#destination-form button[type="submit"]');
      const hook = page.locator('#alert-destinations tr[data-destination-id="hook"]');
      await hook.waitFor({ timeout: 15_000 });
      assert.match(await hook.textContent(), /secret set/);
      await hook.locator('[data-action="test"]').click();
      await page.locator('#alert-outbox tr[data-alert-id]', { hasText: 'hook' }).first().waitFor({ timeout: 15_000 });
      await clean(page, log, 'alerts page');
    } finally {
      await context.close();
    }
  });

  test('the health page sends a test event through ingest and shows it received, and shows the watchdog', async () => {
    const { context, page, log } = await open('health');
    try {
      await page.locator('#send-test').waitFor({ timeout: 15_000 });
      assert.match(await page.textContent('#install-dsn'), /^http:\/\/d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0@127\.0\.0\.1:\d+\/1$/);
      // The receipt answers 404 until the queue consumer has stored the test event.
      let receipt404s = 0;
      page.on('response', (r) => { if (r.status() === 404 && /\/api\/1\/receipt\/[0-9a-f]{32}\?/.test(r.url())) receipt404s += 1; });
      await page.click('#send-test');
      await page.locator('#test-result.test-received').waitFor({ timeout: 15_000 });
      const text = await page.textContent('#test-result');
      const [, id] = /received ✓ event ([0-9a-f]{32}) in \d+ ms/.exec(text) ?? [];
      assert.ok(id, text);
      const stored = await api(`/api/1/events/${id}`);
      assert.equal(stored.event.tags['backstop.test'], 'true', 'the test event is stored, tagged');
      await page.locator('#watchdog tr.watch-up').first().waitFor({ timeout: 15_000 });
      await clean(page, log, 'health page', { receipt404s });
    } finally {
      await context.close();
    }
  });
});
