// Events as a Sentry client sends them, for the triage, alert and dashboard tests.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { DEV_PUBLIC_KEY } from './harness.mjs';

/**
 * Sends one error event to project 1 through `/store/`; `group` becomes its fingerprint and
 * its title reads "TypeError: <group> broke". Returns the event id.
 */
export async function sendEvent(w, group, extra = {}) {
  const event = {
    event_id: randomUUID().replaceAll('-', ''),
    level: 'error',
    platform: 'javascript',
    fingerprint: [group],
    exception: { values: [{ type: 'TypeError', value: `${group} broke` }] },
    ...extra,
  };
  const r = await fetch(`${w.base}/api/1/store/?sentry_key=${DEV_PUBLIC_KEY}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event),
  });
  assert.equal(r.status, 200, await r.text());
  return event.event_id;
}
