// Shared by every dashboard view: the html tag (htm bound to Preact), the app state and its
// render trigger, the API client (admin token, project, acting team member) and formatting.
//
// Every value that comes from an event is attacker-controlled. It only reaches the page as a
// child or attribute of an htm template, which Preact sets as text (textContent / setAttribute),
// never as markup; URLs from events are shown, never made links.
import { h, render as preactRender, Component, Fragment } from '../vendor/preact.mjs';
import htm from '../vendor/htm.mjs';

export { Component, Fragment };

/** The template tag: html`<div class=${c}>${text}</div>`. */
export const html = htm.bind(h);

const PROJECT_KEY = 'backstop.project';
const ACTOR_KEY = 'backstop.actor';

/** Read a localStorage key, or null when storage is disabled. */
export function stored(key) {
  try { return localStorage.getItem(key); } catch (_) { return null; }
}

/** Write (or, given null, remove) a localStorage key; a disabled storage keeps it in memory only. */
export function store(key, value) {
  try {
    if (value === null || value === undefined || value === '') localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch (_) { /* storage disabled */ }
}

/** The whole UI state. Views read it; actions change it and call `update()`. */
export const S = {
  token: null,
  project: stored(PROJECT_KEY) || '1',
  actor: stored(ACTOR_KEY) || '',
  team: [],
  route: { page: 'list', id: null },
  paused: false,
  lastOk: null,
  notice: null, // {text, kind, status}
  showAuth: false,
  menu: null, // the open menu's key; one at a time
  busy: false,
};

let root = null;
let view = null;
let queued = false;

/** Mounts `App` into `container`; later `update()` calls re-render it (batched per frame). */
export function mount(App, container) {
  root = container;
  view = App;
  preactRender(h(view, null), root);
}

/** Applies `patch` to the state (if given) and re-renders on the next microtask. */
export function update(patch) {
  if (patch) Object.assign(S, patch);
  if (queued || !root) return;
  queued = true;
  queueMicrotask(() => {
    queued = false;
    preactRender(h(view, null), root);
  });
}

export function setProject(p) {
  S.project = p || '1';
  store(PROJECT_KEY, S.project);
}

export function setActor(a) {
  S.actor = a || '';
  store(ACTOR_KEY, S.actor);
}

// ---- API ---------------------------------------------------------------------------------------

/** A non-2xx answer of the API, with the server's `error` and `detail`. */
export class ApiError extends Error {
  constructor(status, error, detail) {
    super('HTTP ' + status + (error ? ' ' + error : ''));
    this.name = 'ApiError';
    this.status = status;
    this.error = error;
    this.detail = detail;
  }
}

/** `/api/{project}{suffix}` */
export function projectPath(suffix) {
  return '/api/' + encodeURIComponent(S.project) + suffix;
}

/**
 * Calls the API with the admin token (and, for writes, the acting team member in
 * `X-Backstop-Actor`); resolves to the parsed JSON, rejects with an ApiError.
 */
export async function api(path, { method = 'GET', body } = {}) {
  const headers = { Accept: 'application/json' };
  if (S.token) headers.Authorization = 'Bearer ' + S.token;
  if (method !== 'GET' && S.actor) headers['X-Backstop-Actor'] = S.actor;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method, headers, cache: 'no-store', body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch (_) { parsed = null; }
  if (!res.ok) {
    const obj = parsed && typeof parsed === 'object' ? parsed : {};
    throw new ApiError(res.status, str(obj.error) || null, str(obj.detail) || (parsed ? null : text.slice(0, 200)));
  }
  if (parsed === null) throw new ApiError(res.status, 'invalid response', 'expected JSON');
  return parsed;
}

/** What to tell the user about a failed call. A 400's detail is the server's own words. */
export function describeError(err) {
  if (!(err instanceof ApiError)) {
    return 'Cannot reach the Backstop API: ' + str(err && err.message ? err.message : err);
  }
  const server = [err.error, err.detail].filter(Boolean).join(': ');
  const suffix = server ? ' (server said: ' + server + ')' : '';
  switch (err.status) {
    case 400:
      return '400 Refused: ' + (err.detail || err.error || 'invalid request');
    case 401:
      return '401 Unauthorized: the admin token is missing or wrong. Paste a valid token below.' + suffix;
    case 403:
      return '403 Forbidden: this token may not read project "' + S.project + '".' + suffix;
    case 404:
      return '404 Not found: no such project, issue or event.' + suffix;
    case 503:
      return '503 Service unavailable: the admin API is not available (is an admin token configured on the worker?).' + suffix;
    default:
      return 'HTTP ' + err.status + ' from the Backstop API.' + suffix;
  }
}

/** Shows a failure in the notice bar (and the token form on 401/403). */
export function fail(err, source) {
  const status = err instanceof ApiError ? String(err.status) : 'network';
  const auth = err instanceof ApiError && (err.status === 401 || err.status === 403);
  update({ notice: { text: describeError(err), kind: 'error', status, source, at: Date.now() }, showAuth: auth || S.showAuth });
}

/** Shows a short confirmation in the notice bar. */
export function info(text) {
  update({ notice: { text, kind: 'info', status: null, at: Date.now() } });
}

/** How long the answer to a user's action stays up while the page refreshes under it. */
const NOTICE_MS = 8000;

/** After a good refresh: a refresh failure is over, and an action's answer fades after a while. */
export function clearStaleNotice() {
  const n = S.notice;
  if (n && (n.source === 'refresh' || !n.at || Date.now() - n.at > NOTICE_MS)) update({ notice: null });
}

// ---- formatting --------------------------------------------------------------------------------

export function str(v) {
  return v === undefined || v === null ? '' : String(v);
}

export function num(v) {
  const n = Number(v);
  return isFinite(n) ? n : 0;
}

export function count(v) {
  return num(v).toLocaleString();
}

export function isoTime(ms) {
  const n = Number(ms);
  if (!isFinite(n) || n <= 0) return '';
  return new Date(n).toISOString();
}

export function localTime(ms) {
  const n = Number(ms);
  if (!isFinite(n) || n <= 0) return '—';
  return new Date(n).toLocaleString([], { hour12: false });
}

export function relativeTime(ms) {
  const n = Number(ms);
  if (!isFinite(n) || n <= 0) return '—';
  const s = Math.round((Date.now() - n) / 1000);
  if (s < -5) return 'in ' + untilText(-s);
  if (s < 5) return 'just now';
  if (s < 60) return s + ' s ago';
  const m = Math.floor(s / 60);
  if (m < 60) return m + ' min ago';
  const hrs = Math.floor(m / 60);
  if (hrs < 48) return hrs + ' h ago';
  return Math.floor(hrs / 24) + ' days ago';
}

function untilText(s) {
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.round(s / 60) + ' min';
  if (s < 172800) return Math.round(s / 3600) + ' h';
  return Math.round(s / 86400) + ' days';
}

export function formatBytes(n) {
  const v = Number(n);
  if (!isFinite(v) || v < 0) return '';
  if (v < 1024) return v + ' B';
  if (v < 1024 * 1024) return (v / 1024).toFixed(1) + ' KB';
  return (v / (1024 * 1024)).toFixed(2) + ' MB';
}

/** A <time> with a relative time and the exact time as tooltip. */
export function Time({ ms, class: cls }) {
  const iso = isoTime(ms);
  return html`<time class=${cls} datetime=${iso || undefined} title=${iso ? localTime(ms) : undefined}>${relativeTime(ms)}</time>`;
}

export function LevelBadge({ level }) {
  const l = str(level) || 'error';
  const known = ['fatal', 'error', 'warning', 'info', 'debug'].includes(l) ? l : 'other';
  return html`<span class=${'level level-' + known}>${l}</span>`;
}

/** new / regressed / escalating / ongoing, as a badge; nothing for no substatus. */
export function SubstatusBadge({ substatus }) {
  const s = str(substatus);
  if (!s) return null;
  const known = ['new', 'ongoing', 'regressed', 'escalating'].includes(s) ? s : 'other';
  return html`<span class=${'substatus substatus-' + known} data-substatus=${s}>${s}</span>`;
}

/** The status in words: "Resolved in next release", "Snoozed until 10 more events", … */
export function statusText(issue) {
  const d = (issue && issue.statusDetails) || {};
  switch (issue && issue.status) {
    case 'resolved':
      if (d.inNextRelease) return 'Resolved in the next release';
      if (d.inRelease) return 'Resolved in ' + str(d.inRelease);
      return 'Resolved';
    case 'ignored':
      if (d.ignoreCount) return 'Snoozed until ' + count(d.ignoreCount) + ' more events';
      if (d.ignoreUserCount) return 'Snoozed until ' + count(d.ignoreUserCount) + ' more users';
      if (d.ignoreUntil) return 'Snoozed until ' + localTime(Date.parse(d.ignoreUntil));
      if (d.ignoreUntilEscalating) return 'Archived until escalating';
      return 'Ignored forever';
    case 'unresolved':
      return 'Unresolved';
    default:
      return str(issue && issue.status);
  }
}

/** Closes the open menu when a click lands outside every menu. */
export function installMenuDismiss() {
  document.addEventListener('click', (e) => {
    if (S.menu && !(e.target instanceof Element && e.target.closest('.menu-wrap'))) update({ menu: null });
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && S.menu) update({ menu: null });
  });
}

/** Toggles the menu named `key`. */
export function toggleMenu(key) {
  update({ menu: S.menu === key ? null : key });
}
