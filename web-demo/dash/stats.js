// Ingest outcomes: totals per reason, events/min and drops/min by reason (uPlot), the SDKs' own
// drops, release health and items received, from GET /api/{project}/stats.
import { html, S, update, api, projectPath, str, count } from './lib.js';
import { TimeChart, COLORS } from './chart.js';

const REASONS = ['accepted', 'too_large', 'rate_limited', 'quota_exceeded', 'unauthorized', 'invalid'];
const LABELS = {
  accepted: 'Accepted', too_large: 'Too large', rate_limited: 'Rate limited', quota_exceeded: 'Over quota', unauthorized: 'Unauthorized', invalid: 'Invalid',
};

S.stats = null;
S.statsRange = 60; // minutes shown in the charts

export async function loadStats() {
  const data = await api(projectPath('/stats'));
  update({ stats: buildStats(data) });
}

/** Precomputes the chart arrays once per answer (the charts swap data only when it changes). */
function buildStats(data) {
  const minutes = Array.isArray(data && data.minutes) ? data.minutes : [];
  const totals = (data && data.totals && typeof data.totals === 'object') ? data.totals : {};
  const reasons = REASONS.slice();
  Object.keys(totals).forEach((r) => { if (!reasons.includes(r)) reasons.push(r); });
  return { data, minutes, totals, reasons, charts: {} };
}

/** Per-minute series of the last `range` minutes: x in seconds, one y array per reason. */
function series(stats, range) {
  const key = String(range);
  if (stats.charts[key]) return stats.charts[key];
  const now = Math.floor(Date.now() / 60000) * 60000;
  const start = now - (range - 1) * 60000;
  const xs = [];
  for (let t = start; t <= now; t += 60000) xs.push(t / 1000);
  const by = {};
  stats.reasons.forEach((r) => { by[r] = new Array(xs.length).fill(0); });
  stats.minutes.forEach((m) => {
    const i = Math.round((Number(m.minute) - start) / 60000);
    if (i >= 0 && i < xs.length && by[m.reason]) by[m.reason][i] += Number(m.count) || 0;
  });
  const drops = stats.reasons.filter((r) => r !== 'accepted');
  const out = {
    accepted: [xs, by.accepted],
    drops: [xs, ...drops.map((r) => by[r])],
    dropSeries: drops.map((r, i) => ({ label: LABELS[r] || r, color: COLORS[(i + 1) % COLORS.length] })),
  };
  stats.charts[key] = out;
  return out;
}

export function StatsPanel() {
  const st = S.stats;
  const hourAgo = Date.now() - 3600 * 1000;
  const lastHour = {};
  if (st) {
    st.minutes.forEach((m) => {
      if (Number(m.minute) >= hourAgo) lastHour[m.reason] = (lastHour[m.reason] || 0) + (Number(m.count) || 0);
    });
  }
  const reasons = st ? st.reasons : REASONS;
  const chart = st ? series(st, S.statsRange) : null;
  const data = (st && st.data) || {};
  const drops = Array.isArray(data.client_discarded) ? data.client_discarded : [];
  const sessions = Array.isArray(data.sessions) ? data.sessions : [];
  const items = data.items && typeof data.items === 'object' ? data.items : {};
  return html`<section id="stats" class="panel stats" aria-labelledby="stats-title">
    <div class="panel-head">
      <h2 id="stats-title">Ingest outcomes</h2>
      <span class="muted">totals of the last 24 hours · per minute below</span>
    </div>
    <ul class="counters" id="counters">
      ${reasons.map((reason) => {
        const value = st ? Number(st.totals[reason]) || 0 : 0;
        const cls = 'counter counter-' + (reason === 'accepted' ? 'accepted' : 'drop') + (value > 0 ? ' nonzero' : '');
        return html`<li key=${reason} class=${cls} data-reason=${reason}>
          <span class="counter-value">${value.toLocaleString()}</span>
          <span class="counter-label">${LABELS[reason] || reason}</span>
          <span class="counter-recent">${(lastHour[reason] || 0).toLocaleString()} in the last hour</span>
        </li>`;
      })}
    </ul>
    ${chart && html`<div class="stats-charts">
      <div class="chart-box" id="chart-events">
        <div class="chart-head"><h3>Events accepted / min</h3>
          <span class="seg" role="group" aria-label="Chart range">
            ${[[60, '1 h'], [360, '6 h'], [1440, '24 h']].map(([m, label]) => html`<button key=${m} type="button"
              class="secondary" aria-pressed=${S.statsRange === m ? 'true' : 'false'} onClick=${() => update({ statsRange: m })}>${label}</button>`)}
          </span>
        </div>
        <${TimeChart} label="Events accepted per minute" height=${150} series=${[{ label: 'Accepted', color: '#1a7f37', bars: true }]} data=${chart.accepted} />
      </div>
      <div class="chart-box" id="chart-drops">
        <div class="chart-head"><h3>Dropped / min by reason</h3></div>
        <${TimeChart} label="Dropped events per minute by reason" height=${150} series=${chart.dropSeries} data=${chart.drops} />
      </div>
    </div>`}
    <div class="stats-extra">
      <div>
        <h3>Dropped by the SDKs <span class="muted">(their client reports)</span></h3>
        ${drops.length ? html`<table id="client-drops" class="data compact">
          <thead><tr><th scope="col">Reason</th><th scope="col">Category</th><th scope="col" class="num">Events</th></tr></thead>
          <tbody>${drops.map((d, i) => html`<tr key=${i}><td class="mono">${str(d.reason)}</td><td>${str(d.category)}</td><td class="num">${count(d.quantity)}</td></tr>`)}</tbody>
        </table>` : html`<p id="client-drops-empty" class="muted">No drops reported.</p>`}
      </div>
      <div>
        <h3>Release health</h3>
        ${sessions.length ? html`<table id="sessions" class="data compact">
          <thead><tr><th scope="col">Release</th><th scope="col">Environment</th><th scope="col" class="num">Sessions</th><th scope="col" class="num">Crashed</th><th scope="col" class="num">Crash-free</th></tr></thead>
          <tbody>${sessions.map((r, i) => html`<tr key=${i}>
            <td class="mono">${str(r.release) || '(none)'}</td><td>${str(r.environment)}</td>
            <td class="num">${count(r.started)}</td><td class="num">${count(r.crashed)}</td>
            <td class="num">${typeof r.crash_free_rate === 'number' ? (r.crash_free_rate * 100).toFixed(1) + ' %' : '–'}</td>
          </tr>`)}</tbody>
        </table>` : html`<p id="sessions-empty" class="muted">No sessions yet.</p>`}
      </div>
      <div>
        <h3>Items received</h3>
        <ul id="items" class="items">
          ${Object.keys(items).sort().map((k) => html`<li key=${k} data-item=${k}><span class="item-count">${count(items[k])}</span><span class="item-name">${k}</span></li>`)}
        </ul>
      </div>
    </div>
  </section>`;
}
