// Starts the real worker under `wrangler dev` (workerd with local D1/R2/Durable Objects) on a
// free loopback port with its own fresh state, for one test file. The worker must already be
// built (`cargo xtask build-worker`); BACKSTOP_SKIP_WORKER_BUILD=1 keeps wrangler from rebuilding.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DEV_PUBLIC_KEY = 'd0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0';
export const DEV_ADMIN_TOKEN = 'backstop-local-admin-token';
const WRANGLER = join(ROOT, 'node_modules', '.bin', 'wrangler');

const wranglerEnv = () => ({
  ...process.env,
  CI: 'true',
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_SEND_ERROR_REPORTS: 'false',
  WRANGLER_HIDE_BANNER: 'true',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  BACKSTOP_SKIP_WORKER_BUILD: '1',
  PATH: `${dirname(process.execPath)}:${process.env.PATH}`,
});

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * @param {{vars?: Record<string,string>, timeoutMs?: number, persist?: string, testScheduled?: boolean, config?: string}} [opts]
 *   vars override .dev.vars; `config` runs another wrangler config (a benchmark's baseline worker; no D1 migrations)
 * @returns {Promise<{base: string, port: number, persist: string, adminToken: string, publicKey: string, dsn: string, logs: () => string, stop: (o?: {keepState?: boolean}) => Promise<void>}>}
 */
export async function startWorker(opts = {}) {
  const stateRoot = join(ROOT, 'tests', '.state');
  mkdirSync(stateRoot, { recursive: true });
  // `persist` reuses the local state of an earlier worker (e.g. to restart with new vars).
  const persist = opts.persist ?? mkdtempSync(join(stateRoot, 'run-'));
  const migrate = opts.config ? { status: 0 } : spawnSync(WRANGLER, ['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', persist], {
    cwd: ROOT, env: wranglerEnv(), encoding: 'utf8',
  });
  if (migrate.status !== 0) {
    throw new Error(`d1 migrations failed: ${migrate.stdout}\n${migrate.stderr}`);
  }
  const port = await freePort();
  const args = ['dev', '--local', '--ip', '127.0.0.1', '--port', String(port), '--persist-to', persist,
    '--show-interactive-dev-session=false', '--log-level', 'warn'];
  // `testScheduled` exposes GET /__scheduled, which runs the cron handler once.
  if (opts.testScheduled) args.push('--test-scheduled');
  // A CPU profile of the worker's isolate (README "Capacity") attaches to this inspector port.
  if (process.env.BACKSTOP_INSPECTOR_PORT) args.push('--inspector-port', process.env.BACKSTOP_INSPECTOR_PORT);
  if (opts.config) args.push('--config', opts.config);
  for (const [k, v] of Object.entries(opts.vars ?? {})) args.push('--var', `${k}:${v}`);
  const child = spawn(WRANGLER, args, { cwd: ROOT, env: wranglerEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let ready = false;
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.status === 200) { ready = true; break; }
    } catch { /* not yet listening */ }
    await new Promise((r) => setTimeout(r, 250));
  }
  const stop = async ({ keepState = false } = {}) => {
    if (child.exitCode === null) {
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    if (!keepState) rmSync(persist, { recursive: true, force: true });
  };
  if (!ready) {
    await stop();
    throw new Error(`wrangler dev did not become ready on ${base}:\n${output}`);
  }
  return {
    base, port, persist, adminToken: DEV_ADMIN_TOKEN, publicKey: DEV_PUBLIC_KEY,
    dsn: `http://${DEV_PUBLIC_KEY}@127.0.0.1:${port}/1`,
    logs: () => output,
    stop,
  };
}

/** GET a read-API path with the admin token; returns parsed JSON (throws on non-2xx). */
export async function adminGet(w, path) {
  const r = await fetch(`${w.base}${path}`, { headers: { Authorization: `Bearer ${w.adminToken}` } });
  const body = await r.json();
  if (!r.ok) throw new Error(`${path} -> ${r.status} ${JSON.stringify(body)}`);
  return body;
}

/** Polls `fn` until it returns a truthy value or the timeout passes; returns the last value. */
export async function eventually(fn, timeoutMs = 15_000, intervalMs = 250) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return last;
}

// Ingest answers 200 once a request's job is on the queue; the consumer stores it about a
// second later. Reads right after a send wait for the consumer with these.

/**
 * Waits until every event id is readable at `GET /api/{project}/events/{id}`; returns the
 * details in the order of `ids`, or null once `timeoutMs` passes with one still missing
 * (callers assert on it, naming what they waited for).
 */
export async function waitStored(w, ids, { project = 1, timeoutMs = 20_000 } = {}) {
  const list = Array.isArray(ids) ? ids : [ids];
  const got = new Map();
  const done = await eventually(async () => {
    for (const id of list) {
      if (got.has(id)) continue;
      const r = await fetch(`${w.base}/api/${project}/events/${id}`, { headers: { Authorization: `Bearer ${w.adminToken}` } });
      if (r.status !== 200) { await r.body?.cancel(); return false; }
      got.set(id, await r.json());
    }
    return true;
  }, timeoutMs, 200);
  return done ? list.map((id) => got.get(id)) : null;
}

/**
 * Waits until the consumer has stored at least `n` jobs (ingest requests answered 200) of
 * `project` and counted them (`pipeline.stored` and the job's counters are written together),
 * so that what a test then finds absent was processed, not merely late. Returns the stats.
 */
export async function waitJobs(w, n, { project = 1, timeoutMs = 20_000 } = {}) {
  let last;
  const ok = await eventually(async () => {
    last = await adminGet(w, `/api/${project}/stats`);
    return last.pipeline.stored >= n;
  }, timeoutMs, 200);
  if (!ok) throw new Error(`the consumer stored ${last?.pipeline?.stored} jobs of project ${project}, expected ${n}: ${JSON.stringify(last?.pipeline)}`);
  return last;
}
