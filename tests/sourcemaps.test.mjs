// Source maps end to end: an esbuild-minified app (tests/fixtures/sourcemap-app) is built with
// maps, `sentry-cli sourcemaps inject` + `sourcemaps upload` (the real sentry-cli 3.8 binary)
// upload it to the worker under wrangler dev, the app is served from another origin and throws
// in headless Chromium, once with the Backstop SDK and once with @sentry/browser, and the
// stored frames name the original file, function and line with context. Also: a frame without
// a map says why, a map uploaded later + reprocess maps it, the plain curl upload by release,
// hostile uploads (bad SHA-1, oversized chunk, zip bomb) get a 4xx JSON, and /stats counts it.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { startWorker, adminGet, eventually, ROOT, DEV_PUBLIC_KEY } from './lib/harness.mjs';
import { startSite } from './lib/site.mjs';
import { launchBrowser, watchPage } from './lib/browser.mjs';
import { sentryBundle } from './lib/sentry.mjs';

const CLI = join(ROOT, 'node_modules', '.bin', 'sentry-cli');
const UPLOAD_TOKEN = 'backstop-local-upload-token';
const APP = join(ROOT, 'tests', 'fixtures', 'sourcemap-app', 'src', 'main.js');

function cli(args) {
  const r = spawnSync(CLI, args, {
    env: { ...process.env, SENTRY_DISABLE_UPDATE_CHECK: 'true', SENTRY_LOG_LEVEL: 'info' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, `sentry-cli ${args.join(' ')} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  return `${r.stdout}\n${r.stderr}`;
}

/** Builds the app minified with a map into `dir`/app.js; `banner` makes a different file. */
async function buildApp(dir, banner = '') {
  mkdirSync(dir, { recursive: true });
  await build({
    entryPoints: [APP], bundle: true, minify: true, sourcemap: true, sourcesContent: true,
    format: 'iife', outfile: join(dir, 'app.js'), banner: { js: banner }, logLevel: 'silent',
  });
}

function upload(w, dir) {
  return cli(['--url', w.base, 'sourcemaps', 'upload', '--auth-token', UPLOAD_TOKEN, '--org', 'backstop', '--project', '1', dir]);
}

const top = (frames) => frames[frames.length - 1];

describe('source maps', () => {
  let w, site, browser, work, sentryJs;
  before(async () => {
    mkdirSync(join(ROOT, 'tests', '.state'), { recursive: true });
    work = mkdtempSync(join(ROOT, 'tests', '.state', 'sourcemaps-'));
    await buildApp(join(work, 'dist'));
    await buildApp(join(work, 'late'), '/* a later build */');
    cli(['sourcemaps', 'inject', join(work, 'dist')]);
    cli(['sourcemaps', 'inject', join(work, 'late')]);
    [w, browser, sentryJs] = await Promise.all([startWorker(), launchBrowser(), sentryBundle()]);
    const file = (path) => () => ({ body: readFileSync(path), type: 'text/javascript' });
    const page = (head) => ({ body: `<!doctype html><html><head><meta charset="utf-8">${head}</head><body>shop</body></html>` });
    const backstopTag = `<script src="${w.base}/sdk/backstop.js" data-dsn="${w.dsn}" data-lazy="false"></script>`;
    site = await startSite({
      routes: {
        '/assets/app.js': file(join(work, 'dist', 'app.js')),
        '/late/app.js': file(join(work, 'late', 'app.js')),
        '/sentry.js': { body: sentryJs, type: 'text/javascript' },
        '/backstop.html': page(`${backstopTag}<script src="/assets/app.js"></script>`),
        '/late.html': page(`${backstopTag}<script src="/late/app.js"></script>`),
        '/sentry.html': page(`<script src="/sentry.js"></script><script>Sentry.init({ dsn: ${JSON.stringify(w.dsn)}, sampleRate: 1 });</script><script src="/assets/app.js"></script>`),
      },
    });
  });
  after(async () => {
    await browser?.close();
    await site?.close();
    await w?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** Opens a page, runs the app's checkout (which throws in a timer) and returns the stored event. */
  async function throwIn(path) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const log = watchPage(page);
    const since = Date.now();
    await page.goto(`${site.origin}${path}`);
    await page.waitForFunction(() => typeof window.runCheckout === 'function');
    if (path === '/backstop.html' || path === '/late.html') await page.evaluate(() => window.Backstop.ready);
    await page.evaluate(() => window.runCheckout());
    const found = await eventually(async () => {
      const { events } = await adminGet(w, `/api/1/events?since=${since}&query=${encodeURIComponent('price of pear')}`);
      return events[0];
    }, 20_000);
    await context.close();
    assert.ok(found, `no event from ${path}\n${log.describe()}`);
    return adminGet(w, `/api/1/events/${found.event_id}`);
  }

  function assertMapped(stored, who) {
    const frames = stored.event.frames;
    const t = top(frames);
    assert.match(t.filename, /sourcemap-app\/src\/cart\.js$/, `${who}: ${JSON.stringify(frames)}`);
    assert.equal(t.function, 'lineTotal', `${who}: ${JSON.stringify(frames)}`);
    assert.equal(t.lineno, 5, who);
    assert.ok(frames.some((f) => f.function === 'cartTotal' && f.lineno === 13), `${who}: ${JSON.stringify(frames)}`);
    assert.ok(frames.some((f) => f.function === 'checkout' && /main\.js$/.test(f.filename)), `${who}: ${JSON.stringify(frames)}`);
    const payloadTop = top(stored.payload.exception.values.at(-1).stacktrace.frames);
    assert.match(payloadTop.context_line, /throw new TypeError/, who);
    assert.equal(payloadTop.pre_context.length, 4, who);
    assert.equal(payloadTop.post_context.length, 5, who);
    assert.equal(payloadTop.data.symbolicated, true, who);
    assert.equal(payloadTop.data.resolved_by, 'debug_id', who);
    const raw = top(stored.payload.exception.values.at(-1).raw_stacktrace.frames);
    // @sentry/browser names the script in `filename` only, the Backstop SDK in both.
    assert.match(raw.abs_path ?? raw.filename, /\/assets\/app\.js$/, `${who}: the raw frame is kept`);
    assert.ok(raw.lineno <= 3, `${who}: a line of the injected, minified file (${raw.lineno})`);
  }

  test('sentry-cli sourcemaps upload (3.x) is accepted as it is', () => {
    const out = upload(w, join(work, 'dist'));
    assert.match(out, /Uploaded files to Sentry/, out);
    // Uploading the same bundle again is answered from the first assembly.
    upload(w, join(work, 'dist'));
  });

  test('a Backstop SDK error is stored with original file, function, line and context', async () => {
    const stored = await throwIn('/backstop.html');
    assert.ok(stored.payload.debug_meta?.images?.length === 1, JSON.stringify(stored.payload.debug_meta));
    assertMapped(stored, 'Backstop SDK');
  });

  test('an @sentry/browser error is stored with original file, function, line and context', async () => {
    assertMapped(await throwIn('/sentry.html'), '@sentry/browser');
  });

  test('an unmapped frame says why; a map uploaded later + reprocess maps it', async () => {
    const stored = await throwIn('/late.html');
    const frames = stored.payload.exception.values.at(-1).stacktrace.frames;
    const t = top(frames);
    const id = stored.payload.debug_meta.images[0].debug_id;
    assert.equal(t.data.symbolicated, false);
    assert.equal(t.data.symbolication_error, `no map uploaded for debug id ${id}`);
    assert.match(top(stored.event.frames).filename, /\/late\/app\.js$/);

    upload(w, join(work, 'late'));
    const r = await fetch(`${w.base}/api/1/events/${stored.event.event_id}/reprocess`, {
      method: 'POST', headers: { Authorization: `Bearer ${w.adminToken}` },
    });
    const body = await r.json();
    assert.equal(r.status, 200, JSON.stringify(body));
    assert.ok(body.in_app_mapped >= 3, JSON.stringify(body));
    const again = await adminGet(w, `/api/1/events/${stored.event.event_id}`);
    assert.equal(top(again.event.frames).function, 'lineTotal', JSON.stringify(again.event.frames));
    assert.match(top(again.payload.exception.values.at(-1).stacktrace.frames).context_line, /throw new TypeError/);
    const noToken = await fetch(`${w.base}/api/1/events/${stored.event.event_id}/reprocess`, { method: 'POST' });
    assert.equal(noToken.status, 401);
  });

  test('the plain upload: curl a map for a release and URL, frames of that release map', async () => {
    const dir = join(work, 'curl');
    await buildApp(dir, '/* curl */');
    const map = readFileSync(join(dir, 'app.js.map'));
    const url = `${w.base}/api/1/sourcemaps?release=shop%402.0&url=${encodeURIComponent('~/static/app.js')}`;
    const r = await fetch(url, {
      method: 'POST', body: gzipSync(map),
      headers: { Authorization: `Bearer ${UPLOAD_TOKEN}`, 'Content-Encoding': 'gzip' },
    });
    const body = await r.json();
    assert.equal(r.status, 201, JSON.stringify(body));
    assert.equal(body.sources_with_content, 2);
    const js = readFileSync(join(dir, 'app.js'), 'utf8');
    const [line, col] = (() => {
      const lines = js.split('\n');
      const l = lines.findIndex((x) => x.includes('new TypeError'));
      return [l + 1, lines[l].indexOf('new TypeError') + 1];
    })();
    const event = (release) => ({
      event_id: randomUUID().replaceAll('-', ''), platform: 'javascript', release,
      exception: { values: [{ type: 'TypeError', value: 'curl frame', stacktrace: { frames: [
        { function: 'n', abs_path: 'https://shop.example/static/app.js?v=3', lineno: line, colno: col, in_app: true },
      ] } }] },
    });
    for (const [release, want] of [['shop@2.0', 'mapped'], ['shop@1.9', 'unmapped']]) {
      const ev = event(release);
      const s = await fetch(`${w.base}/api/1/store/?sentry_key=${DEV_PUBLIC_KEY}`, { method: 'POST', body: JSON.stringify(ev) });
      assert.equal(s.status, 200);
      const stored = await eventually(() => adminGet(w, `/api/1/events/${ev.event_id}`).catch(() => null));
      const f = top(stored.payload.exception.values[0].stacktrace.frames);
      if (want === 'mapped') {
        assert.match(f.filename, /sourcemap-app\/src\/cart\.js$/, JSON.stringify(f));
        assert.equal(f.lineno, 5);
        assert.equal(f.data.resolved_by, 'release');
        assert.equal(f.function, 'n', 'without the minified file the minified name stays');
      } else {
        assert.equal(f.data.symbolication_error, 'no map for release shop@1.9 url https://shop.example/static/app.js?v=3');
      }
    }
    const noRelease = await fetch(`${w.base}/api/1/sourcemaps?url=~/x.js`, { method: 'POST', body: map, headers: { Authorization: `Bearer ${UPLOAD_TOKEN}` } });
    assert.equal(noRelease.status, 400);
    assert.equal((await noRelease.json()).error, 'invalid_param');
    const wrongToken = await fetch(url, { method: 'POST', body: map, headers: { Authorization: `Bearer ${w.adminToken}` } });
    assert.equal(wrongToken.status, 403, 'the admin token is not an upload token');
  });

  test('hostile uploads get a clear 4xx JSON', async () => {
    const chunkUrl = `${w.base}/api/0/organizations/backstop/chunk-upload/`;
    const auth = { Authorization: `Bearer ${UPLOAD_TOKEN}` };
    const sha1 = (b) => createHash('sha1').update(b).digest('hex');
    const postChunk = (name, bytes, field = 'file_gzip') => {
      const form = new FormData();
      form.append(field, new Blob([bytes]), name);
      return fetch(chunkUrl, { method: 'POST', body: form, headers: auth });
    };
    const expect = async (r, status, error, what) => {
      const body = await r.json();
      assert.equal(r.status, status, `${what}: ${JSON.stringify(body)}`);
      assert.equal(body.error, error, `${what}: ${JSON.stringify(body)}`);
      assert.ok(body.detail, what);
      return body;
    };
    const opts = await (await fetch(chunkUrl, { headers: auth })).json();
    assert.equal(opts.hashAlgorithm, 'sha1');
    await expect(await fetch(chunkUrl), 401, 'missing_token', 'no token');
    await expect(await fetch(chunkUrl, { headers: { Authorization: 'Bearer nope-nope-nope-nope' } }), 403, 'invalid_token', 'bad token');

    const hello = Buffer.from('hello chunk');
    await expect(await postChunk(sha1(Buffer.from('something else')), gzipSync(hello)), 400, 'invalid_chunk', 'bad sha1');
    await expect(await postChunk('not-a-sha1', hello, 'file'), 400, 'invalid_chunk', 'bad name');
    const big = Buffer.alloc(opts.chunkSize + 1);
    const body = await expect(await postChunk(sha1(big), gzipSync(big)), 413, 'too_large', 'oversized chunk (gzip)');
    assert.equal(body.limit, opts.chunkSize);

    // A zip bomb: 48 MiB of zeros deflated into a few KB, named as a source map.
    const bombPath = join(work, 'bomb.zip');
    const py = spawnSync('python3', ['-c', `
import zipfile, json, sys
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('manifest.json', json.dumps({"files": {"files/_/_/a.js.map": {"type": "source_map", "url": "~/a.js.map", "headers": {"debug-id": "11111111-2222-3333-4444-555555555555"}}}}))
    z.writestr('files/_/_/a.js.map', b'\\0' * (48 * 1024 * 1024))
`, bombPath], { encoding: 'utf8' });
    assert.equal(py.status, 0, py.stderr);
    const bomb = readFileSync(bombPath);
    assert.ok(bomb.length < opts.chunkSize, `the bomb is ${bomb.length} bytes`);
    const stored = await postChunk(sha1(bomb), gzipSync(bomb));
    assert.equal(stored.status, 200, await stored.text());
    const assemble = await fetch(`${w.base}/api/0/organizations/backstop/artifactbundle/assemble/`, {
      method: 'POST', headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ checksum: sha1(bomb), chunks: [sha1(bomb)], projects: ['1'] }),
    });
    const answer = await expect(assemble, 400, 'invalid_bundle', 'zip bomb');
    assert.match(answer.detail, /decompresses to more than \d+ bytes/);
    const wrongProject = await fetch(`${w.base}/api/0/organizations/backstop/artifactbundle/assemble/`, {
      method: 'POST', headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ checksum: sha1(bomb), chunks: [sha1(bomb)], projects: ['2'] }),
    });
    await expect(wrongProject, 403, 'wrong_project', 'another project');
    const tooBig = await fetch(`${w.base}/api/1/sourcemaps?release=r&url=~/a.js`, {
      method: 'POST', headers: { ...auth, 'Content-Encoding': 'gzip' }, body: gzipSync(Buffer.alloc(40 * 1024 * 1024)),
    });
    await expect(tooBig, 413, 'too_large', 'a map that inflates past the limit');
  });

  test('/stats gives the share of in-app frames mapped', async () => {
    const { symbolication } = await adminGet(w, '/api/1/stats');
    assert.ok(symbolication.in_app_frames > 0, JSON.stringify(symbolication));
    assert.ok(symbolication.mapped > 0 && symbolication.mapped < symbolication.in_app_frames, JSON.stringify(symbolication));
    assert.equal(symbolication.mapped_share, symbolication.mapped / symbolication.in_app_frames);
  });
});
