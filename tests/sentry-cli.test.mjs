// The official sentry-cli (npm @sentry/cli, its own Linux binary) against a Backstop DSN:
// `sentry-cli send-event`, the command teams use to check a DSN from a shell or a pipeline.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { startWorker, adminGet, eventually, ROOT } from './lib/harness.mjs';

const CLI = join(ROOT, 'node_modules', '.bin', 'sentry-cli');

describe('sentry-cli against Backstop', () => {
  let w;
  before(async () => { w = await startWorker(); });
  after(async () => { await w?.stop(); });

  test('sentry-cli send-event lands as an issue with its message, release, environment and tags', async () => {
    const r = spawnSync(CLI, ['send-event', '-m', 'hello from sentry-cli', '--release', '9.9.9', '--env', 'staging', '--tag', 'origin:cli', '--level', 'warning'], {
      env: { ...process.env, SENTRY_DSN: w.dsn, SENTRY_DISABLE_UPDATE_CHECK: 'true', SENTRY_LOG_LEVEL: 'info' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.status, 0, `sentry-cli exited ${r.status}\n${r.stdout}\n${r.stderr}`);
    const [, uuid] = /Event id:\s*([0-9a-f-]{36})/i.exec(`${r.stdout}\n${r.stderr}`) ?? [];
    assert.ok(uuid, `no event id printed:\n${r.stdout}\n${r.stderr}`);
    const id = uuid.replaceAll('-', '');
    const stored = await eventually(async () => {
      try { return await adminGet(w, `/api/1/events/${id}`); } catch { return null; }
    }, 15_000);
    assert.ok(stored, `event ${id} stored`);
    assert.equal(stored.event.release, '9.9.9');
    assert.equal(stored.event.environment, 'staging');
    assert.equal(stored.event.level, 'warning');
    assert.equal(stored.event.tags.origin, 'cli');
    const { issues } = await adminGet(w, '/api/1/issues?query=hello%20from%20sentry-cli');
    assert.equal(issues.length, 1);
    assert.equal(issues[0].status, 'unresolved');
  });
});
