// `cargo xtask bench ingest`: ingest throughput in one run, against a baseline of the same run.
// 1. Accept side: wrk (pinned Debian build, crates/xtask/bench/envelope.lua) POSTs ~1 KB browser
//    exception envelopes, each with its own event_id, over N connections to a no-op worker that
//    reads the body and answers 200 (crates/xtask/bench/noop/), then to Backstop's
//    `/api/1/envelope/`, both under the same wrangler dev binary, one after the other, each
//    after a warm-up that is not counted: requests/s, latency, non-2xx, and the ratio.
//    Two floors in the same run say where the gap to the no-op worker comes from: a JS worker
//    that only sends each body to a local Queue whose consumer acknowledges
//    (crates/xtask/bench/queue-floor/: the platform's queue hop, no Backstop code), and
//    Backstop's router answering 404 to POST /api/1/bench-floor/ (its wasm entry and routing,
//    no body read).
// 2. Store side: stored events/s (from the start of the measured load until every accepted
//    event is stored, by the sum of the issues' counts) and accept → queryable latency of single
//    events (their POST's 200 until `GET /api/1/events/{id}` answers 200). Storage may be
//    synchronous or behind a queue: this only measures.
// Figures are for comparison within the run, never assertions. Every process started here
// (wrangler dev and its workerd children, wrk) is stopped by its PID, on error and on signals too.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg, totalmem } from 'node:os';
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startWorker, adminGet, ROOT, DEV_PUBLIC_KEY } from './harness.mjs';

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '10' },
    connections: { type: 'string', default: '8' },
    probes: { type: 'string', default: '50' },
  },
});
const num = (name, min) => {
  const v = Number(flags[name]);
  if (!Number.isInteger(v) || v < min) throw new Error(`--${name} must be a whole number >= ${min}, not '${flags[name]}'`);
  return v;
};
const DURATION = num('duration', 1);
const WARMUP = num('warmup', 0);
const CONNECTIONS = num('connections', 1);
const PROBES = num('probes', 0);
const THREADS = Math.min(CONNECTIONS, cpus().length);
const LUA = join(ROOT, 'crates', 'xtask', 'bench', 'envelope.lua');
const NOOP_CONFIG = join(ROOT, 'crates', 'xtask', 'bench', 'noop', 'wrangler.toml');
const QUEUE_FLOOR_CONFIG = join(ROOT, 'crates', 'xtask', 'bench', 'queue-floor', 'wrangler.toml');
const ROUTING_FLOOR_PATH = '/api/1/bench-floor/';
const OUT = join(ROOT, 'target', 'bench-ingest');
const INGEST_PATH = `/api/1/envelope/?sentry_key=${DEV_PUBLIC_KEY}`;
// High enough that the token bucket never refuses during the run.
const PROJECTS = JSON.stringify({ 1: { public_key: DEV_PUBLIC_KEY, rate_limit: { burst: 100_000_000, per_second: 10_000_000 } } });

/**
 * The event a browser SDK sends for an uncaught TypeError in a minified production bundle: 8
 * frames, the page URL and User-Agent, release and environment; about 1.2 KB of JSON.
 */
function browserEvent(eventId, timestamp) {
  const bundle = 'https://shop.io/main.4f9c.js';
  const frame = (fn, lineno, colno) => ({ filename: bundle, function: fn, lineno, colno });
  return {
    event_id: eventId,
    timestamp,
    platform: 'javascript',
    level: 'error',
    release: 'shop@2.14.0',
    environment: 'production',
    sdk: { name: 'sentry.javascript.browser', version: '8.55.0' },
    request: {
      url: 'https://shop.io/checkout',
      headers: { 'User-Agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36' },
    },
    exception: {
      values: [{
        type: 'TypeError',
        value: "Cannot read properties of undefined (reading 'price')",
        mechanism: { type: 'onerror', handled: false },
        // Oldest first, as Sentry orders them; minified names, as a production bundle has.
        stacktrace: {
          frames: [
            frame('Sl', 1, 7821), frame('Ur', 1, 6032), frame('ko', 1, 1731), frame('Cart', 2, 48213),
            frame('t', 2, 47105), frame('Array.reduce', 2, 46990), frame('a', 2, 46871), frame('fmt', 2, 46702),
          ],
        },
      }],
    },
  };
}

/** One envelope with one event item; ids, times and the item length have fixed widths. */
function envelope(eventId, timestamp, sentAt) {
  const event = JSON.stringify(browserEvent(eventId, timestamp));
  return `${JSON.stringify({ event_id: eventId, sent_at: sentAt })}\n${JSON.stringify({ type: 'event', length: Buffer.byteLength(event) })}\n${event}\n`;
}

const ID_PLACEHOLDER = '@@EVENT_ID@@';
const TS_PLACEHOLDER = '@@TIMESTAMP@@';
const SENT_PLACEHOLDER = '@@SENT_AT@@';
/** The template wrk fills in per request (the item length is that of the filled-in event). */
function envelopeTemplate() {
  const sample = envelope('0'.repeat(32), 1_800_000_000, '2027-01-15T08:00:00Z');
  const tpl = envelope(ID_PLACEHOLDER, 1_800_000_000, SENT_PLACEHOLDER)
    .replace('1800000000', TS_PLACEHOLDER)
    .replace(/"length":\d+/, sample.match(/"length":\d+/)[0]);
  const eventSize = Buffer.byteLength(JSON.stringify(browserEvent('0'.repeat(32), 1_800_000_000)));
  return { tpl, size: Buffer.byteLength(sample), eventSize };
}

// ---- processes ---------------------------------------------------------------------------

const live = new Set(); // stop functions of what is running
async function stopAll() {
  for (const stop of [...live]) {
    try { await stop(); } catch (e) { console.error(`stopping: ${e.message}`); }
  }
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    console.error(`\n${sig}: stopping what this benchmark started`);
    stopAll().finally(() => process.exit(130));
  });
}

/** PIDs of every descendant of `pid` (from /proc), so none outlives its wrangler. */
function descendants(pid) {
  const children = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(d));
    } catch { /* exited meanwhile */ }
  }
  const out = [];
  const walk = (p) => { for (const c of children.get(p) ?? []) { out.push(c); walk(c); } };
  walk(pid);
  return out;
}
const isAlive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };

/** Starts a worker; its stop also kills any workerd child left behind (by PID). */
async function start(opts) {
  const w = await startWorker(opts);
  const wranglerPid = wranglerPidOn(w.port);
  const tree = wranglerPid ? descendants(wranglerPid) : [];
  const stop = async () => {
    live.delete(stop);
    await w.stop();
    for (const pid of tree) {
      if (isAlive(pid)) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    }
  };
  live.add(stop);
  return { ...w, stop, pids: tree };
}

/** The wrangler child of this process serving `port` (the harness keeps the handle private). */
function wranglerPidOn(port) {
  for (const pid of descendants(process.pid)) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (cmd.some((a) => a.endsWith('wrangler') || a.includes('wrangler-dist')) && cmd.includes(String(port))) return pid;
    } catch { /* gone */ }
  }
  return undefined;
}

/** Runs wrk for `secs` against `base`; resolves with its parsed `WRK` summary line. */
function runWrk(base, secs, templatePath, nonce, path = INGEST_PATH) {
  return new Promise((resolve, reject) => {
    const args = [`-t${THREADS}`, `-c${CONNECTIONS}`, `-d${secs}s`, '--timeout', '10s', '-s', LUA, base, '--', path, templatePath, nonce];
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const stop = async () => { live.delete(stop); if (child.exitCode === null) child.kill('SIGKILL'); };
    live.add(stop);
    child.once('error', (e) => { live.delete(stop); reject(new Error(`cannot run wrk: ${e.message}`)); });
    child.once('exit', (code) => {
      live.delete(stop);
      const line = out.split('\n').find((l) => l.startsWith('WRK '));
      if (code !== 0 || !line) return reject(new Error(`wrk exited with ${code}:\n${out}`));
      resolve(JSON.parse(line.slice(4)));
    });
  });
}

// ---- measuring ---------------------------------------------------------------------------

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nonce = () => randomBytes(4).toString('hex');

/** Events stored so far: the sum of the issues' counts (each stored event counts once). */
async function storedEvents(w) {
  const { issues } = await adminGet(w, '/api/1/issues?limit=500');
  return issues.reduce((a, i) => a + Number(i.count), 0);
}

/** Polls until at least `target` events are stored; returns the count and when it got there. */
async function waitStored(w, target, timeoutMs) {
  const deadline = performance.now() + timeoutMs;
  let n = await storedEvents(w);
  while (n < target && performance.now() < deadline) {
    await sleep(100);
    n = await storedEvents(w);
  }
  return { stored: n, at: performance.now(), complete: n >= target };
}

/** Then until the count holds still for a second (requests wrk had in flight when it stopped). */
async function waitSettled(w, target, timeoutMs) {
  const reached = await waitStored(w, target, timeoutMs);
  let last = reached.stored;
  for (let i = 0; i < 30; i++) {
    await sleep(1000);
    const n = await storedEvents(w);
    if (n === last) break;
    last = n;
  }
  return { ...reached, stored: last };
}

/** Warm-up (not counted), then the measured run. */
async function load(w, templatePath, label, path = INGEST_PATH, warmup = WARMUP) {
  let warm = null;
  if (warmup > 0) {
    console.log(`==> ${label}: warm-up ${warmup} s`);
    warm = await runWrk(w.base, warmup, templatePath, nonce(), path);
  }
  return { warm, run: async () => {
    const loadBefore = loadavg()[0];
    console.log(`==> ${label}: measuring ${DURATION} s, ${CONNECTIONS} connections, ${THREADS} wrk threads (load average ${loadBefore.toFixed(2)})`);
    const r = await runWrk(w.base, DURATION, templatePath, nonce(), path);
    return { ...r, loadBefore, loadAfter: loadavg()[0] };
  } };
}

/** Single events spaced out: their POST's 200 → `GET /api/1/events/{id}` answers 200. */
async function probe(w, n) {
  const latencies = [];
  const posts = [];
  let missing = 0;
  for (let i = 0; i < n; i++) {
    const id = randomBytes(16).toString('hex');
    const now = new Date();
    const body = envelope(id, Math.floor(now.getTime() / 1000), now.toISOString().replace(/\.\d+Z$/, 'Z'));
    const t0 = performance.now();
    const r = await fetch(`${w.base}${INGEST_PATH}`, { method: 'POST', body, headers: { 'content-type': 'application/x-sentry-envelope' } });
    await r.arrayBuffer();
    const accepted = performance.now();
    if (r.status !== 200) throw new Error(`probe event answered ${r.status}`);
    posts.push(accepted - t0);
    const deadline = accepted + 60_000;
    let found = false;
    while (performance.now() < deadline) {
      const g = await fetch(`${w.base}/api/1/events/${id}`, { headers: { Authorization: `Bearer ${w.adminToken}` } });
      await g.arrayBuffer();
      if (g.status === 200) { found = true; break; }
      if (g.status !== 404) throw new Error(`GET /api/1/events/${id} answered ${g.status}`);
      await sleep(5);
    }
    if (found) latencies.push(performance.now() - accepted);
    else missing++;
    await sleep(100);
  }
  return { latencies, posts, missing };
}

function versions() {
  const first = (cmd, args) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').map((l) => l.trim()).find(Boolean) ?? '?';
  };
  const pkg = (name) => JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
  const deb = spawnSync('dpkg-query', ['-W', '-f=${Version}', 'wrk'], { encoding: 'utf8' }).stdout || 'not from Debian';
  const cpu = cpus();
  return {
    cores: `${cpu.length} (${cpu[0]?.model ?? '?'})`,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    wrangler: pkg('wrangler'),
    workerd: pkg('workerd'),
    wrk: `${first('wrk', ['-v']).replace(/ Copyright.*$/, '').replace(/^wrk /, '')} (Debian package ${deb})`,
    node: process.version,
  };
}

// ---- report ------------------------------------------------------------------------------

const fmt = (x, d = 0) => x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
const msOf = (us) => `${(us / 1000).toFixed(2)} ms`;
const rps = (r) => r.requests / (r.duration_us / 1e6);
const okps = (r) => r.ok / (r.duration_us / 1e6);
const socketErrors = (r) => r.errors.connect + r.errors.read + r.errors.write + r.errors.timeout;

async function main() {
  const facts = versions();
  mkdirSync(OUT, { recursive: true });
  const { tpl, size, eventSize } = envelopeTemplate();
  const templatePath = join(OUT, 'envelope.template');
  writeFileSync(templatePath, tpl);
  console.log(`==> envelope: ${size} bytes (one browser exception event of ${eventSize} bytes, 8 frames); wrk ${facts.wrk}, wrangler ${facts.wrangler}`);

  console.log('==> starting the no-op worker (crates/xtask/bench/noop/)');
  const noop = await start({ config: NOOP_CONFIG });
  let noopRun;
  try {
    const { run } = await load(noop, templatePath, 'no-op');
    noopRun = await run();
  } finally {
    await noop.stop();
  }

  console.log('==> starting the queue floor (crates/xtask/bench/queue-floor/)');
  const qf = await start({ config: QUEUE_FLOOR_CONFIG });
  let queueFloor;
  try {
    const { run } = await load(qf, templatePath, 'queue floor', INGEST_PATH, Math.min(WARMUP, 5));
    queueFloor = await run();
  } finally {
    await qf.stop();
  }

  console.log('==> starting Backstop (rate limit out of the way)');
  const w = await start({ vars: { BACKSTOP_PROJECTS: PROJECTS } });
  let bs, store, probes, counted, routingFloor;
  try {
    {
      const { run } = await load(w, templatePath, 'Backstop routing floor (404)', ROUTING_FLOOR_PATH, Math.min(WARMUP, 5));
      routingFloor = await run();
    }
    const { warm, run } = await load(w, templatePath, 'Backstop');
    // Whatever the warm-up got accepted is stored before the measured run starts.
    const warmStored = await waitSettled(w, warm?.ok ?? 0, 120_000);
    const t0 = performance.now();
    bs = await run();
    const loadEnd = performance.now();
    const done = await waitStored(w, warmStored.stored + bs.ok, 300_000);
    await sleep(1000);
    const settled = await storedEvents(w);
    store = {
      stored: done.stored - warmStored.stored,
      complete: done.complete,
      rate: (done.stored - warmStored.stored) / ((done.at - t0) / 1000),
      drainMs: done.at - loadEnd,
      settled: settled - warmStored.stored,
      total: settled,
    };
    counted = (await adminGet(w, '/api/1/stats')).totals.accepted;
    if (PROBES > 0) {
      console.log(`==> accept → queryable: ${PROBES} single events, 100 ms apart`);
      probes = await probe(w, PROBES);
    }
  } finally {
    await w.stop();
  }

  const ratio = okps(bs) / rps(noopRun);
  const rows = [
    ['requests/s', fmt(rps(noopRun)), fmt(rps(bs)), `${ratio.toFixed(2)}x`],
    ['accepted events/s (2xx)', '—', fmt(okps(bs)), ''],
    ['latency p50', msOf(noopRun.p50_us), msOf(bs.p50_us), `${(bs.p50_us / noopRun.p50_us).toFixed(2)}x`],
    ['latency p99', msOf(noopRun.p99_us), msOf(bs.p99_us), `${(bs.p99_us / noopRun.p99_us).toFixed(2)}x`],
    ['requests in the measured run', fmt(noopRun.requests), fmt(bs.requests), ''],
    ['non-2xx', `${noopRun.non2xx} ${noopRun.statuses}`.trim(), `${bs.non2xx} ${bs.statuses}`.trim(), ''],
    ['socket errors (connect/read/write/timeout)', String(socketErrors(noopRun)), String(socketErrors(bs)), ''],
    ['load average (1 min) before → after', `${noopRun.loadBefore.toFixed(2)} → ${noopRun.loadAfter.toFixed(2)}`, `${bs.loadBefore.toFixed(2)} → ${bs.loadAfter.toFixed(2)}`, ''],
  ];
  console.log();
  console.log(`### Accept side: ${DURATION} s per side after ${WARMUP} s warm-up, ${CONNECTIONS} connections, ${size} B envelopes (${eventSize} B events)`);
  console.log();
  console.log('| | no-op worker | Backstop | Backstop / no-op |');
  console.log('|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  console.log();
  console.log(`Throughput ratio Backstop (accepted events/s) / no-op (requests/s): **${ratio.toFixed(2)}x** `
    + `(goal >= 0.7x: ${ratio >= 0.7 ? 'met' : 'NOT MET'}); non-2xx: ${bs.non2xx + noopRun.non2xx === 0 ? '0' : 'SOME (must be 0)'}.`);
  console.log();
  console.log('### Floors (same run): where the gap to the no-op worker comes from');
  console.log();
  console.log('| side | requests/s | / no-op | p50 | p99 | answers |');
  console.log('|---|---|---|---|---|---|');
  const floorRow = (label, r, answers) => console.log(`| ${label} | ${fmt(rps(r))} | ${(rps(r) / rps(noopRun)).toFixed(2)}x | ${msOf(r.p50_us)} | ${msOf(r.p99_us)} | ${answers} |`);
  floorRow('no-op worker (reads the body, answers 200)', noopRun, `${fmt(noopRun.ok)} 2xx`);
  floorRow('queue floor (JS: reads the body, one local Queue send, consumer only acks)', queueFloor, `${fmt(queueFloor.ok)} 2xx, ${queueFloor.non2xx} other`);
  floorRow(`Backstop routing floor (POST ${ROUTING_FLOOR_PATH}: wasm entry and router, 404, body not read)`, routingFloor, `${fmt(routingFloor.requests - routingFloor.ok)} non-2xx (404 expected)`);
  floorRow('Backstop ingest (accepted, queued, stored by the consumer)', bs, `${fmt(bs.ok)} 2xx`);
  console.log();
  console.log('### Store side');
  console.log();
  console.log('| | value |');
  console.log('|---|---|');
  console.log(`| stored events/s (measured run start → all accepted stored) | ${fmt(store.rate)} |`);
  console.log(`| stored / accepted events/s | ${(store.rate / okps(bs)).toFixed(2)}x |`);
  console.log(`| stored count when it first reached the ${fmt(bs.ok)} answered 2xx | ${fmt(store.stored)}${store.complete ? '' : ' (TIMED OUT before all were stored)'} |`);
  console.log(`| drain: load stopped → all accepted stored | ${(store.drainMs / 1000).toFixed(2)} s |`);
  console.log(`| events of the measured run stored, settled | ${fmt(store.settled)} (${fmt(store.settled - bs.ok)} more than wrk saw answered: in flight when it stopped) |`);
  console.log(`| Backstop's accepted count (stats) vs events stored, warm-up + measured run | ${fmt(counted)} vs ${fmt(store.total)} |`);
  if (probes) {
    const l = probes.latencies;
    if (l.length > 0) {
      console.log(`| accept → queryable p50 / p99 / max (${l.length} single events) | ${l.length ? `${quantile(l, 0.5).toFixed(1)} / ${quantile(l, 0.99).toFixed(1)} / ${Math.max(...l).toFixed(1)} ms` : '—'} |`);
    }
    console.log(`| single event POST p50 / p99 (idle worker) | ${quantile(probes.posts, 0.5).toFixed(1)} / ${quantile(probes.posts, 0.99).toFixed(1)} ms |`);
    if (probes.missing) console.log(`| probe events never queryable within 60 s | ${probes.missing} |`);
  }
  console.log();
  console.log(`Queryable latency is from the POST's 200 to the first GET /api/1/events/{id} that answers 200 (polled every 5 ms; includes that GET's round trip).`);
  console.log();
  console.log('### Machine');
  console.log();
  console.log('| | |');
  console.log('|---|---|');
  for (const [k, v] of Object.entries({ ...facts, 'duration (measured, per side)': `${DURATION} s (+ ${WARMUP} s warm-up)`, 'connections / wrk threads': `${CONNECTIONS} / ${THREADS}` })) {
    console.log(`| ${k} | ${v} |`);
  }
}

main().then(stopAll, async (e) => {
  console.error(e);
  await stopAll();
  process.exit(1);
});
