// Drop-in compatibility for backends: the official Python sentry-sdk (pinned, installed into
// target/pyenv by `cargo xtask setup`) reports to the real worker in workerd. It authenticates
// with X-Sentry-Auth and compresses bodies, unlike the browser SDK.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { startWorker, adminGet, waitStored, ROOT } from './lib/harness.mjs';

const PYTHON = join(ROOT, 'target', 'pyenv', 'bin', 'python');

let w;
before(async () => { w = await startWorker(); });
after(async () => { await w?.stop(); });

test('sentry-sdk for Python: exception with stack, message, user, tags, breadcrumbs', async () => {
  const run = spawnSync(PYTHON, [join(ROOT, 'tests', 'clients', 'sentry_python.py'), w.dsn], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
  const ids = JSON.parse(run.stdout.trim().split('\n').pop());

  const [exception, message] = await waitStored(w, [ids.exception_id, ids.message_id]) ?? [];
  assert.ok(exception && message, `both events stored by the consumer: ${JSON.stringify(ids)}`);
  assert.equal(exception.event.type, 'ValueError');
  assert.equal(exception.event.message, 'card declined for amount 99');
  assert.equal(exception.event.release, 'api@3.1.0');
  assert.equal(exception.event.user_email, 'py@example.com');
  assert.equal(exception.event.tags.service, 'billing');
  assert.equal(exception.event.frames.at(-1).function, 'charge_card', 'frames are oldest first, the raising function last');
  assert.equal(exception.payload.platform, 'python');
  const crumbs = exception.payload.breadcrumbs;
  assert.ok((Array.isArray(crumbs) ? crumbs : crumbs.values).some((b) => b.message === 'SELECT cart'));

  assert.equal(message.event.message, 'nightly job finished');
  assert.equal(message.event.level, 'info');
  assert.equal(message.event.kind, 'message');

  const { issues } = await adminGet(w, '/api/1/issues');
  assert.ok(issues.some((i) => i.title === 'ValueError: card declined for amount 99'));
});
