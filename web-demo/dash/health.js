// Health (route #health): is the project still sending? The silence watchdog per environment,
// the install probe of the project's site, and "Send test event", which sends an event through
// the public ingest path with the project's key and waits for its receipt.
import { html, S, update, api, projectPath, fail, str, Time } from './lib.js';

S.health = null; // {watchdog, install, stats}
S.testRun = null; // {state: 'sending'|'received'|'failed', text}

export async function loadHealth() {
  const [watchdog, install, stats] = await Promise.all([api(projectPath('/watchdog')), api(projectPath('/install')), api(projectPath('/stats'))]);
  update({ health: { watchdog, install, stats } });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

S.reprocess = null; // text of the last reprocess answer

/** Queues the project's dead letters again, then reloads the figures. */
async function reprocess() {
  update({ reprocess: 'queuing…' });
  const r = await api(projectPath('/dead-letters/reprocess'), { method: 'POST' });
  update({ reprocess: `queued ${Number(r.queued) || 0}, ${Number(r.remaining) || 0} left` });
  await loadHealth();
}

/** Counters of one kind (`filtered` by filter, `scrubbed` by rule) as a small table. */
function Counts({ id, title, counts }) {
  const keys = counts && typeof counts === 'object' ? Object.keys(counts).sort() : [];
  return html`<div id=${id}><h3>${title}</h3>${keys.length === 0
    ? html`<p class="muted">none in 24 h</p>`
    : html`<table class="table"><tbody>${keys.map((k) => html`<tr key=${k}><td>${str(k)}</td><td>${Number(counts[k]) || 0}</td></tr>`)}</tbody></table>`}</div>`;
}

function PipelinePanel({ stats }) {
  const p = (stats && stats.pipeline) || {};
  const dead = (stats && stats.dead_letters) || {};
  const items = Array.isArray(dead.items) ? dead.items : [];
  return html`<section class="panel" id="pipeline">
    <h2>Pipeline</h2>
    <p>Queued <b id="pipeline-queued">${Number(p.queued) || 0}</b>, stored <b id="pipeline-stored">${Number(p.stored) || 0}</b> in 24 h;
      backlog <b id="pipeline-backlog">${Number(p.backlog) || 0}</b>; lag <b id="pipeline-lag">${p.lag_ms_mean_5m == null ? '—' : Math.round(p.lag_ms_mean_5m) + ' ms'}</b> (mean, 5 min).</p>
    <h3>Dead letters</h3>
    ${Number(dead.count) > 0
      ? html`<p id="dead-letters"><b>${Number(dead.count)}</b> job(s) every attempt failed for, oldest received <${Time} ms=${dead.oldest} />.
          <button type="button" id="reprocess" onClick=${() => reprocess().catch(fail)}>Reprocess</button> <span aria-live="polite">${S.reprocess || ''}</span></p>
        <table class="table"><thead><tr><th>Job</th><th>Attempts</th><th>Reason</th></tr></thead><tbody>
          ${items.map((d) => html`<tr key=${str(d.job_id)}><td class="mono">${str(d.job_id)}</td><td>${Number(d.attempts) || 0}</td><td class="wrap">${str(d.reason)}</td></tr>`)}
        </tbody></table>`
      : html`<p id="dead-letters" class="muted">None: every accepted job was stored. ${S.reprocess || ''}</p>`}
    <${Counts} id="filtered-counts" title="Dropped by inbound filters" counts=${stats && stats.filtered} />
    <${Counts} id="scrubbed-counts" title="Values scrubbed, by rule" counts=${stats && stats.scrubbed} />
  </section>`;
}

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
  const { watchdog, install, stats } = S.health;
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
    <${PipelinePanel} stats=${stats} />
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
