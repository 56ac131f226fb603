// Backstop dashboard: the triage pages over the admin API. Routes live in the fragment:
// (none) the issue list with stats and recent events, #issue=<id> one issue, #alerts the alert
// rules, destinations and outbox, #health the watchdog, the install probe and a test event.
// The views are Preact components (dash/*.js); this file holds
// the shell (token, project, "I am …", notices), the router and the refresh loop.
import {
  html, S, update, mount, api, projectPath, fail, clearStaleNotice, setProject, setActor, installMenuDismiss, ApiError,
} from './dash/lib.js';
import { StatsPanel, loadStats } from './dash/stats.js';
import { IssuesPanel, loadIssues } from './dash/issues.js';
import { EventsPanel, EventDetail, loadEvents, selectEvent } from './dash/events.js';
import { IssuePage, loadIssue } from './dash/issue.js';
import { AlertsPage, loadAlerts } from './dash/alerts.js';
import { HealthPage, loadHealth } from './dash/health.js';
import { onChanged } from './dash/triage.js';

const REFRESH_MS = 2000;
let timer = null;
let inFlight = null;
let teamFor = null;

function parseRoute() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  if (params.has('issue')) return { page: 'issue', id: params.get('issue') };
  if (params.has('alerts')) return { page: 'alerts', id: null };
  if (params.has('health')) return { page: 'health', id: null };
  return { page: 'list', id: null };
}

async function loadTeam() {
  if (teamFor === S.project) return;
  const data = await api(projectPath('/team'));
  teamFor = S.project;
  update({ team: Array.isArray(data.team) ? data.team.map(String) : [] });
}

/** Loads what the current page shows. */
function loadPage() {
  const r = S.route;
  const calls = [loadTeam()];
  if (r.page === 'list') {
    calls.push(loadStats(), loadIssues(), loadEvents());
    if (S.eventDetail && S.eventDetail.data) calls.push(selectEvent(S.eventDetail.id, true));
  } else if (r.page === 'issue') {
    calls.push(loadIssue(r.id));
  } else if (r.page === 'alerts') {
    calls.push(loadAlerts());
  } else if (r.page === 'health') {
    calls.push(loadHealth());
  }
  return Promise.all(calls);
}

function refresh() {
  clearTimeout(timer);
  timer = null;
  if (!S.token) {
    update({ notice: { text: 'Paste the admin token to read project data.', kind: 'info', status: null }, showAuth: true });
    return Promise.resolve();
  }
  if (inFlight) return inFlight;
  update({ refreshing: true });
  inFlight = loadPage().then(
    () => {
      clearStaleNotice();
      update({ lastOk: Date.now(), showAuth: false });
    },
    (err) => fail(err, 'refresh'),
  ).then(() => {
    inFlight = null;
    update({ refreshing: false });
    schedule();
  });
  return inFlight;
}

function schedule() {
  clearTimeout(timer);
  timer = null;
  if (!S.paused && S.token) timer = setTimeout(refresh, REFRESH_MS);
}

function setToken(token) {
  S.token = token || null;
  window.BackstopAdminToken.save(S.token);
  update({ showAuth: !S.token });
}

function onRoute() {
  const route = parseRoute();
  const same = route.page === S.route.page && route.id === S.route.id;
  if (same) return;
  const patch = { route, menu: null };
  if (route.page === 'issue') Object.assign(patch, { issue: null, noteDraft: null, eventDetail: null });
  if (S.route.page === 'issue') patch.eventDetail = null;
  update(patch);
  window.scrollTo(0, 0);
  refresh();
}

function Notice() {
  const n = S.notice;
  if (!n) return null;
  return html`<div id="notice" class=${'notice notice-' + (n.kind || 'error')} role="alert" data-status=${n.status || undefined}>${n.text}</div>`;
}

function TokenForm() {
  const submit = (e) => {
    e.preventDefault();
    const input = e.currentTarget.querySelector('#token-input');
    const value = input.value.trim();
    if (!value) return;
    input.value = '';
    setToken(value);
    update({ notice: null });
    teamFor = null;
    refresh();
  };
  return html`<section id="auth" class="panel auth" aria-labelledby="auth-title">
    <h2 id="auth-title">Admin token</h2>
    <p class="muted">The read API needs the admin token (<code>Authorization: Bearer …</code>). It is kept in this browser's local storage.
      You can also open this page as <code>/#token=…</code>.</p>
    <form id="token-form" class="inline-form" autocomplete="off" onSubmit=${submit}>
      <label for="token-input">Token</label>
      <input id="token-input" type="password" required spellcheck="false" />
      <button type="submit">Use token</button>
    </form>
  </section>`;
}

function TopBar() {
  const applyProject = (e) => {
    e.preventDefault();
    const input = document.getElementById('project');
    const p = input.value.trim() || '1';
    if (p === S.project) return;
    setProject(p);
    teamFor = null;
    update({ issues: null, events: null, stats: null, alerts: null, health: null, testRun: null, selected: new Set(), eventDetail: null, team: [] });
    refresh();
  };
  const refreshText = (S.paused ? 'auto-refresh paused' : 'auto-refresh every ' + REFRESH_MS / 1000 + ' s')
    + (S.lastOk ? ' · updated ' + new Date(S.lastOk).toLocaleTimeString([], { hour12: false }) : '');
  const page = S.route.page;
  return html`<header class="topbar">
    <h1><a class="brand-link" href="#"><span class="brand">Backstop</span> dashboard</a></h1>
    <nav class="page-tabs" aria-label="Pages">
      <a href="#" aria-current=${page === 'list' || page === 'issue' ? 'page' : undefined}>Issues</a>
      <a href="#alerts" id="nav-alerts" aria-current=${page === 'alerts' ? 'page' : undefined}>Alerts</a>
      <a href="#health" id="nav-health" aria-current=${page === 'health' ? 'page' : undefined}>Health</a>
    </nav>
    <form id="project-form" class="topbar-controls" autocomplete="off" onSubmit=${applyProject}>
      <label for="project">Project</label>
      <input id="project" name="project" type="text" value=${S.project} size="4" spellcheck="false" onChange=${applyProject} />
      <label for="actor">I am</label>
      <select id="actor" value=${S.actor} onChange=${(e) => { setActor(e.currentTarget.value); update(); }}>
        <option value="">(nobody: acts as "api")</option>
        ${S.team.map((m) => html`<option key=${m} value=${m}>${m}</option>`)}
        ${S.actor && !S.team.includes(S.actor) ? html`<option value=${S.actor}>${S.actor}</option>` : null}
      </select>
      <button type="button" id="refresh" class="secondary" onClick=${() => refresh()}>Refresh</button>
      <button type="button" id="pause" class="secondary" aria-pressed=${S.paused ? 'true' : 'false'}
        onClick=${() => { S.paused = !S.paused; update(); if (S.paused) clearTimeout(timer); else refresh(); }}>${S.paused ? 'Resume' : 'Pause'}</button>
      <span id="refresh-state" class="muted" aria-live="polite">${refreshText}</span>
    </form>
    <nav class="topbar-links">
      <a href="/demo/">Demo page</a>
      <a href="/webhooks/">Webhooks</a>
      ${S.token ? html`<button type="button" id="forget-token" class="link" onClick=${() => {
        setToken(null); clearTimeout(timer);
        update({ notice: { text: 'Token forgotten. Paste a token to continue.', kind: 'info', status: null } });
      }}>Forget token</button>` : null}
    </nav>
  </header>`;
}

function ListPage() {
  // The event panel takes a column only while it shows an event: triage needs the list wide.
  return html`<main id="app" class=${S.eventDetail ? 'layout' : 'layout wide'}>
    <${StatsPanel} />
    <div class="col-main">
      <${IssuesPanel} />
      <${EventsPanel} />
    </div>
    ${S.eventDetail ? html`<${EventDetail} detail=${S.eventDetail} closable=${true} />` : null}
  </main>`;
}

function App() {
  const page = S.route.page;
  return html`
    <${TopBar} />
    <${Notice} />
    ${S.showAuth ? html`<${TokenForm} />` : null}
    ${page === 'issue' ? html`<${IssuePage} />` : page === 'alerts' ? html`<${AlertsPage} />` : page === 'health' ? html`<${HealthPage} />` : html`<${ListPage} />`}
  `;
}

function init() {
  const q = new URLSearchParams(location.search);
  if (q.get('project')) setProject(q.get('project'));
  S.token = window.BackstopAdminToken.read() || null;
  S.showAuth = !S.token;
  S.route = parseRoute();
  onChanged(() => refresh());
  installMenuDismiss();
  window.addEventListener('hashchange', onRoute);
  // Timers are throttled in background tabs: catch up as soon as the tab is visible again.
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && !S.paused) refresh();
  });
  mount(App, document.getElementById('root'));
  refresh();
}

// For the console and the tests: the state and a way to refresh now.
window.backstopDashboard = { state: S, refresh, ApiError };
init();
