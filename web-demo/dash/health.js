// Health (route #health): is the project still sending? The silence watchdog per environment,
// the install probe of the project's site, and "Send test event", which sends an event through
// the public ingest path with the project's key and waits for its receipt.
import { html, S, update, api, projectPath, fail, str, Time } from './lib.js';

S.health = null; // {watchdog, install}
S.testRun = null; // {state: 'sending'|'received'|'failed', text}

export async function loadHealth() {
  const [watchdog, install] = await Promise.all([api(projectPath('/watchdog')), api(projectPath('/install'))]);
  update({ health: { watchdog, install } });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The same round trip as `Backstop.test()`: store, then poll the receipt until it is stored. */
async function sendTest() {
  const install = S.health && S.health.install;
  if (!install) return;
  const key = encodeURIComponent(install.public_key);
  const project = encodeURIComponent(install.project);
  const id = crypto.randomUUID().replaceAll('-', '');
  const started = performance.now();
  update({ testRun: { state: 'sending', text: 'sending…' } });
  try {
    const event = { event_id: id, level: 'info', message: 'Backstop test event (dashboard)', tags: { 'backstop.test': 'true' }, platform: 'javascript' };
    const res = await fetch(`/api/${project}/store/?sentry_key=${key}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(event) });
    if (!res.ok) throw new Error(`ingest answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
    for (;;) {
      const r = await fetch(`/api/${project}/receipt/${id}?sentry_key=${key}`, { cache: 'no-store' });
      if (r.ok) break;
      if (r.status !== 404) throw new Error(`receipt answered ${r.status}`);
      if (performance.now() - started > 10_000) throw new Error('not stored within 10 s');
      await sleep(200);
    }
    const ms = Math.round(performance.now() - started);
    update({ testRun: { state: 'received', text: `received ✓ event ${id} in ${ms} ms` } });
  } catch (err) {
    update({ testRun: { state: 'failed', text: 'failed: ' + str(err && err.message ? err.message : err) } });
  }
}

function WatchRow({ w }) {
  return html`<tr class=${'watch-' + str(w.state)}>
    <td>${str(w.environment) || '(none)'}</td>
    <td><span class=${'badge watch ' + str(w.state)}>${str(w.state)}</span></td>
    <td>${w.last_signal_ms ? html`<${Time} ms=${w.last_signal_ms} />` : '—'}</td>
    <td>${w.expected_per_hour == null ? '—' : Number(w.expected_per_hour).toFixed(1)}</td>
    <td>${w.down_after_ms ? Math.round(w.down_after_ms / 60000) + ' min' : '—'}</td>
  </tr>`;
}

export function HealthPage() {
  if (!S.health) return html`<main id="app" class="layout wide"><section class="panel"><p class="muted">Loading…</p></section></main>`;
  const { watchdog, install } = S.health;
  const watches = Array.isArray(watchdog.watches) ? watchdog.watches : [];
  const probe = watchdog.install_probe;
  return html`<main id="app" class="layout wide health-page">
    <section class="panel" id="verify">
      <h2>Verify the install</h2>
      <p>DSN: <code id="install-dsn">${str(install.dsn)}</code></p>
      <p><button type="button" id="send-test" disabled=${S.testRun && S.testRun.state === 'sending'} onClick=${() => sendTest().catch(fail)}>Send test event</button>
        ${' '}<span id="test-result" class=${S.testRun ? 'test-' + S.testRun.state : ''} aria-live="polite">${S.testRun ? S.testRun.text : ''}</span></p>
      <p class="muted">On a site, <code>Backstop.test()</code> in the console does the same from the page; <code>cargo xtask verify &lt;site&gt;</code> does it from a deploy pipeline.</p>
    </section>
    <section class="panel" id="watchdog">
      <h2>Silence watchdog</h2>
      ${watches.length === 0
        ? html`<p class="muted">Nothing received yet: a project never seen never alerts.</p>`
        : html`<table class="table"><thead><tr><th>Environment</th><th>State</th><th>Last signal</th><th>Expected / h</th><th>Down after</th></tr></thead>
          <tbody>${watches.map((w) => html`<${WatchRow} key=${str(w.environment)} w=${w} />`)}</tbody></table>`}
    </section>
    <section class="panel" id="install-probe">
      <h2>Install probe</h2>
      ${probe
        ? html`<p><code>${str(probe.site_url)}</code>: <span id="probe-result">${str(probe.result)}</span> (checked <${Time} ms=${probe.checked_at} />)</p>`
        : html`<p class="muted">No <code>site_url</code> configured for this project (BACKSTOP_PROJECTS), or not checked yet.</p>`}
    </section>
  </main>`;
}
