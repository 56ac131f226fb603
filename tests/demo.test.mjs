// The demo's webhook half, as `cargo xtask demo` sets it up: the demo origin
// (crates/xtask/demo/origin.mjs, 1 MB upload limit) behind the guarded route `/demo-webhook/`,
// and the demo page's webhook panel driven in Chromium. The page is served by another origin
// than the worker, as a real site is.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';

import { startWorker, adminGet, freePort, ROOT } from './lib/harness.mjs';
import { launchBrowser, watchPage, waitFor } from './lib/browser.mjs';
import { startSite } from './lib/site.mjs';

let worker;
let origin;
let originUrl;
let site;
let browser;

before(async () => {
  const port = await freePort();
  originUrl = `http://127.0.0.1:${port}`;
  origin = spawn(process.execPath, [join(ROOT, 'crates/xtask/demo/origin.mjs'), String(port), '1048576'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    origin.stdout.once('data', resolve);
    origin.once('exit', (code) => reject(new Error(`demo origin exited with ${code}`)));
  });
  worker = await startWorker({
    vars: { BACKSTOP_WEBHOOK_ROUTES: JSON.stringify([{ name: 'demo', prefix: '/demo-webhook/', origin: originUrl }]) },
  });
  site = await startSite({ files: { '/demo/': 'web-demo/demo/', '/style.css': 'web-demo/style.css' } });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await site?.close();
  await worker?.stop();
  origin?.kill('SIGTERM');
});

test('the demo page\'s webhook panel: passes, holds with its sender, raise the limit, replay once byte for byte', { timeout: 120_000 }, async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const log = watchPage(page);
  try {
    await page.goto(`${site.origin}/demo/?collector=${encodeURIComponent(worker.base)}`, { waitUntil: 'load' });
    await page.waitForSelector('#webhook-panel[data-ready="yes"]', { timeout: 20_000 }).catch((e) => {
      throw new Error(`${e.message}\n${log.describe()}\n${worker.logs().slice(-3000)}`);
    });
    assert.equal(await page.textContent('#wh-route'), '/demo-webhook/');
    assert.equal(await page.textContent('#wh-limit'), '1.0 MB');

    await page.click('#wh-small');
    await page.waitForSelector('#wh-result-small', { timeout: 30_000 });
    assert.equal(await page.getAttribute('#wh-result-small', 'data-delivery-status'), 'delivered', await page.textContent('#wh-log'));

    await page.click('#wh-big');
    await page.waitForSelector('#wh-result-big', { timeout: 60_000 });
    const bigText = await page.textContent('#wh-result-big');
    assert.match(await page.getAttribute('#wh-result-big', 'data-delivery-status'), /^(held|failed)$/, bigText);
    assert.match(bigText, /bob@example\.com/, 'the sender is shown');
    assert.match(bigText, /413/, 'the origin\'s 413 is shown');
    assert.ok(await page.$('#wh-result-big a[href*="/webhooks/"]'), 'links to the webhooks dashboard');
    const held = (await adminGet(worker, '/api/webhooks/deliveries?status=held,failed')).deliveries;
    assert.equal(held.length, 1, JSON.stringify(held));
    assert.equal(held[0].reason, 'origin_too_large');
    const before = await (await fetch(`${originUrl}/__origin/state`)).json();
    assert.equal(before.received.filter((r) => r.size > 1024 * 1024).length, 0, 'the origin did not receive the large webhook');

    await page.click('#wh-raise');
    await waitFor(async () => (await page.textContent('#wh-limit')) === '10.0 MB', { what: 'the raised limit shown' });

    await page.click('#wh-replay');
    await page.waitForSelector('#wh-result-replay', { timeout: 60_000 });
    assert.equal(await page.getAttribute('#wh-result-replay', 'data-result'), 'delivered', await page.textContent('#wh-log'));
    assert.equal(await page.getAttribute('#wh-result-replay', 'data-identical'), 'yes', await page.textContent('#wh-log'));
    const state = await (await fetch(`${originUrl}/__origin/state`)).json();
    assert.equal(state.received.filter((r) => r.size > 3 * 1024 * 1024).length, 1, 'delivered exactly once');
    const after = (await adminGet(worker, `/api/webhooks/deliveries/${held[0].id}`)).delivery;
    assert.equal(after.status, 'delivered');
    assert.deepEqual(log.pageErrors.filter((e) => !/early error/.test(e)), [], log.describe());
  } finally {
    await context.close();
  }
});
