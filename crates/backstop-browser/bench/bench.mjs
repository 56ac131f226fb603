// The SDK benchmark's measuring half (run by `cargo xtask bench sdk`, which builds both SDKs
// first): Backstop's built SDK (web-demo/sdk) against @sentry/browser bundled with esbuild
// (OUT_DIR/sentry.js), in one headless Chromium run, both pointed at the same local sink that
// answers 200.
//
//   node crates/backstop-browser/bench/bench.mjs OUT_DIR [loads] [captures]
//
// Prints the table, then one line `SIZES key=value ...` for xtask's budget check.
//
// What is measured:
// - bytes a page downloads for each SDK: raw, gzip -9, brotli q11. Backstop loads its wasm and
//   backstop_bg.js only once there is something to report, so it is counted twice: a page
//   without errors downloads backstop.js only, a page with an error backstop.js,
//   backstop_bg.js and backstop_bg.wasm. Sentry's bundle is the same for both;
// - main-thread time from script start to ready over fresh page loads (new browser context
//   each, so nothing is cached): from a Chromium trace of each load, the renderer main
//   thread's top-level tasks clipped to the interval between the `sdk-start` mark (before the
//   SDK's <script>) and the `sdk-ready` mark (right after Backstop.init or Sentry's init: both
//   are then listening): script parse and run, init; network waits and tasks that only render
//   (the page's first frame) are not counted. Wall-clock start -> ready is printed for
//   information;
// - main-thread time of Backstop's wasm load on a page's first error (fetch, compile,
//   instantiate, init, the hand-over of what waited), measured the same way between the
//   `load-start` and `load-ready` marks around Backstop.load() (information: Sentry paid its
//   whole cost at start-up);
// - cost of capturing one error: synchronous time of captureException(new Error(...)) in
//   batches of 50 (performance.now() is coarsened to 100 us, so single calls cannot be timed),
//   both SDKs' pages open side by side with batches alternating, median over batches of the
//   per-capture mean. Both send every event with fetch to the sink, which dominates.
//   Backstop keeps at most 4 requests in flight and sends the rest as responses come back, so
//   a second row counts everything: the main-thread time of a batch from its start until 300 ms
//   later (all requests answered, responses handled), from a trace, per capture.
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const outDir = path.resolve(process.argv[2] || path.join(root, 'target/bench-sdk'));
const LOADS = Number(process.argv[3] || 40);
const CAPTURES = Number(process.argv[4] || 4000);
const BATCH = 50;
const TRACED_BATCHES = 15;
const KEY = 'b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0';

const files = {
  '/sdk/backstop.js': path.join(root, 'web-demo/sdk/backstop.js'),
  '/sdk/backstop_bg.js': path.join(root, 'web-demo/sdk/backstop_bg.js'),
  '/sdk/backstop_bg.wasm': path.join(root, 'web-demo/sdk/backstop_bg.wasm'),
  '/sentry.js': path.join(outDir, 'sentry.js'),
};
const content = {};
for (const [p, f] of Object.entries(files)) content[p] = await readFile(f);

function sizes(paths) {
  const buf = paths.map((p) => content[p]);
  const sum = (f) => buf.reduce((n, b) => n + f(b), 0);
  return {
    raw: sum((b) => b.length),
    gzip: sum((b) => zlib.gzipSync(b, { level: 9 }).length),
    brotli: sum((b) => zlib.brotliCompressSync(b, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length),
  };
}
const size = {
  ours: sizes(['/sdk/backstop.js', '/sdk/backstop_bg.js', '/sdk/backstop_bg.wasm']),
  oursNoError: sizes(['/sdk/backstop.js']),
  wasm: sizes(['/sdk/backstop_bg.wasm']),
  js: sizes(['/sdk/backstop.js']),
  bg: sizes(['/sdk/backstop_bg.js']),
  sentry: sizes(['/sentry.js']),
};

let base;
const mark = '<script>performance.mark("sdk-start")</script>';
const done = 'performance.mark("sdk-ready"); window.__ready = true;';
const pages = {
  // maxEvents: the capture benchmark makes thousands of events (Sentry has no such cap).
  ours: () => `<!doctype html><html><head>${mark}<script src="/sdk/backstop.js"></script>
    <script>Backstop.init({ dsn: 'http://${KEY}@${new URL(base).host}/1', maxEvents: 1e9 });
    ${done}
    window.__capture = function (e) { return Backstop.captureException(e); };</script></head><body></body></html>`,
  sentry: () => `<!doctype html><html><head>${mark}<script src="/sentry.js"></script>
    <script>${done} window.__capture = function (e) { return SentryBench.captureException(e); };</script></head><body></body></html>`,
};

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, base);
  const cors = { 'access-control-allow-origin': '*', 'access-control-expose-headers': 'x-sentry-rate-limits, retry-after' };
  if (req.method === 'OPTIONS') {
    res.writeHead(204, { ...cors, 'access-control-allow-headers': '*', 'access-control-allow-methods': 'POST' });
    return res.end();
  }
  if (req.method === 'POST') {
    for await (const _ of req) { /* drain */ }
    res.writeHead(200, { ...cors, 'content-type': 'application/json' });
    return res.end('{}');
  }
  const page = url.pathname.match(/^\/(\w+)\.html$/);
  if (page && pages[page[1]]) {
    res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'no-store' });
    return res.end(pages[page[1]]());
  }
  if (content[url.pathname]) {
    const type = url.pathname.endsWith('.wasm') ? 'application/wasm' : 'text/javascript';
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
    return res.end(content[url.pathname]);
  }
  res.writeHead(404);
  res.end();
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
base = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});

/** Main-thread busy time between the two marks: the renderer main thread's top-level tasks
 * (from a Chromium trace), clipped to [sdk-start, sdk-ready]. Network waits are not counted,
 * nor tasks that only render (style, layout, paint: the page's own first frame, which falls
 * inside the interval of an SDK that becomes ready asynchronously). */
const RENDER = new Set(['UpdateLayoutTree', 'Layout', 'PrePaint', 'Paint', 'Layerize', 'UpdateLayer', 'Commit',
  'ScrollLayer', 'HitTest', 'PaintImage', 'RasterTask', 'UpdateLayerTree', 'BeginMainThreadFrame']);
function mainThreadMs(trace, from = 'sdk-start', until = 'sdk-ready') {
  const events = JSON.parse(trace.toString('utf8')).traceEvents || [];
  const mark = (n) => events.find((e) => e.name === n && String(e.cat).includes('user_timing'));
  const start = mark(from);
  const end = mark(until);
  if (!start || !end) throw new Error(`the trace has no ${from}/${until} marks`);
  const main = events.filter((e) => e.pid === start.pid && e.tid === start.tid && e.ph === 'X');
  let names = ['ThreadControllerImpl::RunTask'];
  if (!main.some((e) => names.includes(e.name))) names = ['RunTask'];
  let busy = 0;
  for (const task of main) {
    if (!names.includes(task.name)) continue;
    const from = Math.max(task.ts, start.ts);
    const to = Math.min(task.ts + (task.dur || 0), end.ts);
    if (to <= from) continue;
    const inner = main.filter((e) => e !== task && !names.includes(e.name) && e.ts >= task.ts && e.ts <= task.ts + task.dur);
    if (inner.length && inner.every((e) => RENDER.has(e.name))) continue;
    busy += to - from;
  }
  return busy / 1000;
}

/** A fresh page load; `traced`: main-thread time to ready; `lazy`: then Backstop's wasm load
 * (its main-thread time too when traced). */
async function load(name, traced, lazy = false) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  if (traced) await browser.startTracing(page, { categories: ['toplevel', 'blink.user_timing', 'devtools.timeline'] });
  await page.goto(`${base}/${name}.html`);
  await page.waitForFunction(() => window.__ready === true, null, { timeout: 10000 });
  const wall = await page.evaluate(() => performance.measure('m', 'sdk-start', 'sdk-ready').duration);
  if (lazy) {
    await page.evaluate(() => {
      performance.mark('load-start');
      return Backstop.load().then(() => { performance.mark('load-ready'); });
    });
  }
  let main = 0;
  let lazyMain = 0;
  if (traced) {
    const trace = await browser.stopTracing();
    main = mainThreadMs(trace);
    if (lazy) lazyMain = mainThreadMs(trace, 'load-start', 'load-ready');
  }
  return { context, page, wall, main, lazyMain, errors };
}

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const median = (xs) => quantile(xs, 0.5);

// Warm-up (the browser process, not the pages: each load has a fresh context).
for (const name of ['ours', 'sentry']) (await load(name, false, name === 'ours')).context.close();

const loads = { ours: [], sentry: [] };
for (let i = 0; i < LOADS; i++) {
  for (const name of ['ours', 'sentry']) {
    const r = await load(name, true, name === 'ours');
    if (r.errors.length) throw new Error(`${name}: page errors ${r.errors.join('; ')}`);
    loads[name].push({ wall: r.wall, main: r.main, lazyMain: r.lazyMain });
    await r.context.close();
  }
}
const mainThread = (name) => loads[name].map((l) => l.main);
const wall = (name) => loads[name].map((l) => l.wall);
const lazyMain = loads.ours.map((l) => l.lazyMain);

/** Capture cost: both pages open side by side, batches alternating between them (so drift of
 * the machine hits both alike); per batch the synchronous time of BATCH captures. */
async function captureCosts() {
  // Backstop's wasm loaded first: the capture cost is that of a loaded SDK.
  const pages = { ours: await load('ours', false, true), sentry: await load('sentry', false) };
  const out = { ours: [], sentry: [] };
  try {
    for (let b = 0; b < CAPTURES / BATCH; b++) {
      for (const name of ['ours', 'sentry']) {
        const us = await pages[name].page.evaluate(async ({ b, batch }) => {
          const errors = [];
          for (let i = 0; i < batch; i++) errors.push(new Error(`bench error ${b}-${i}`));
          const t0 = performance.now();
          for (const e of errors) window.__capture(e);
          const t = ((performance.now() - t0) * 1000) / batch;
          await new Promise((res) => setTimeout(res, 0));
          return t;
        }, { b, batch: BATCH });
        out[name].push(us);
      }
    }
    // Everything counted: traced batches, main thread from the batch start until all is done.
    out.oursTotal = [];
    out.sentryTotal = [];
    for (let b = 0; b < TRACED_BATCHES; b++) {
      for (const name of ['ours', 'sentry']) {
        const { page } = pages[name];
        await browser.startTracing(page, { categories: ['toplevel', 'blink.user_timing', 'devtools.timeline'] });
        await page.evaluate(async ({ b, batch }) => {
          const errors = [];
          for (let i = 0; i < batch; i++) errors.push(new Error(`traced error ${b}-${i}`));
          performance.mark('cap-start');
          for (const e of errors) window.__capture(e);
          await new Promise((res) => setTimeout(res, 300));
          performance.mark('cap-end');
        }, { b, batch: BATCH });
        const trace = await browser.stopTracing();
        out[`${name}Total`].push((mainThreadMs(trace, 'cap-start', 'cap-end') * 1000) / BATCH);
      }
    }
    for (const name of ['ours', 'sentry']) {
      if (pages[name].errors.length) throw new Error(`${name}: page errors ${pages[name].errors.join('; ')}`);
    }
    return out;
  } finally {
    await pages.ours.context.close();
    await pages.sentry.context.close();
  }
}
const capture = await captureCosts();

const chromiumVersion = browser.version();
await browser.close();
server.close();

const sentryVersion = JSON.parse(await readFile(path.join(root, 'node_modules/@sentry/browser/package.json'), 'utf8')).version;
const fmtInt = (n) => Math.round(n).toLocaleString('en-US');
const fmt = (n, d = 1) => n.toFixed(d);
const rows = [
  ['page without errors: bytes, raw (B)', size.oursNoError.raw, size.sentry.raw, fmtInt, ''],
  ['page without errors: bytes, gzip (B)', size.oursNoError.gzip, size.sentry.gzip, fmtInt, '<= 0.15'],
  ['page without errors: bytes, brotli (B)', size.oursNoError.brotli, size.sentry.brotli, fmtInt, ''],
  ['page with an error: bytes, raw (B)', size.ours.raw, size.sentry.raw, fmtInt, ''],
  ['page with an error: bytes, gzip (B)', size.ours.gzip, size.sentry.gzip, fmtInt, '<= 0.50'],
  ['page with an error: bytes, brotli (B)', size.ours.brotli, size.sentry.brotli, fmtInt, ''],
  ['main thread, start->ready, median (ms)', median(mainThread('ours')), median(mainThread('sentry')), (n) => fmt(n, 2), '<= 1.00'],
  ['main thread, start->ready, p90 (ms)', quantile(mainThread('ours'), 0.9), quantile(mainThread('sentry'), 0.9), (n) => fmt(n, 2), '<= 1.00'],
  ['wall clock, start->ready, median (ms)', median(wall('ours')), median(wall('sentry')), (n) => fmt(n, 1), '(info)'],
  ['wall clock, start->ready, p90 (ms)', quantile(wall('ours'), 0.9), quantile(wall('sentry'), 0.9), (n) => fmt(n, 1), '(info)'],
  ['first error: wasm load, main thread, median (ms)', median(lazyMain), median(mainThread('sentry')), (n) => fmt(n, 2), '(info: vs Sentry start->ready)'],
  ['capture one error, median (us)', median(capture.ours), median(capture.sentry), (n) => fmt(n, 1), '<= 0.50'],
  ['capture one error, all main thread incl. sends (us)', median(capture.oursTotal), median(capture.sentryTotal), (n) => fmt(n, 1), '(info: nothing deferred hidden)'],
];
const pad = (s, n) => String(s).padEnd(n);
const lpad = (s, n) => String(s).padStart(n);
console.log(`Backstop SDK vs @sentry/browser ${sentryVersion} (esbuild --bundle --minify, default integrations), ${chromiumVersion}`);
console.log(`${LOADS} fresh page loads each (main thread = renderer main-thread tasks between the marks, from a trace); ${CAPTURES} captures each in batches of ${BATCH}, ${TRACED_BATCHES} traced batches each`);
console.log();
console.log(`${pad('', 50)}${lpad('Backstop', 11)}${lpad('Sentry', 11)}${lpad('ratio', 8)}  target`);
for (const [name, ours, sentry, f, target] of rows) {
  const ratio = sentry > 0 ? ours / sentry : NaN;
  console.log(`${pad(name, 50)}${lpad(f(ours), 11)}${lpad(f(sentry), 11)}${lpad(fmt(ratio, 2), 8)}  ${target}`);
}
console.log();
console.log(`Backstop parts: backstop_bg.wasm ${fmtInt(size.wasm.raw)} B raw / ${fmtInt(size.wasm.gzip)} B gzip; backstop.js ${fmtInt(size.js.raw)} B raw / ${fmtInt(size.js.gzip)} B gzip; backstop_bg.js ${fmtInt(size.bg.raw)} B raw / ${fmtInt(size.bg.gzip)} B gzip`);
console.log(`SIZES wasm_raw=${size.wasm.raw} wasm_gzip=${size.wasm.gzip} js_raw=${size.js.raw} js_gzip=${size.js.gzip} bg_js_raw=${size.bg.raw} bg_js_gzip=${size.bg.gzip} total_gzip=${size.ours.gzip} total_brotli=${size.ours.brotli} sentry_gzip=${size.sentry.gzip}`);
