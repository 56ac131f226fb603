// The issue list: status tabs with counts, filters, sort, bulk selection and actions. Rows are
// keyed by issue id, so a refresh patches them in place: focus, checked boxes and an open menu
// survive it.
import {
  html, S, update, api, projectPath, fail, str, count, Time, LevelBadge, SubstatusBadge, statusText,
} from './lib.js';
import { Sparkline } from './chart.js';
import { ResolveMenu, SnoozeMenu, AssignSelect, changeIssues } from './triage.js';

const TABS = [['unresolved', 'Unresolved'], ['resolved', 'Resolved'], ['ignored', 'Ignored'], ['all', 'All']];
const SORTS = [['last_seen', 'Last seen'], ['first_seen', 'First seen'], ['events', 'Events'], ['users', 'Users']];
const COUNT_LIMIT = 500;

/** Filters start from the address (`/?project=1&status=unresolved&release=…`, as alerts link). */
function initialList() {
  const q = new URLSearchParams(location.search);
  const pick = (k, allowed) => {
    const v = q.get(k);
    return v !== null && (!allowed || allowed.includes(v)) ? v : null;
  };
  return {
    status: pick('status', TABS.map((t) => t[0])) || 'unresolved',
    assigned: pick('assigned') || '',
    environment: pick('environment') || '',
    release: pick('release') || '',
    query: pick('query') || '',
    sort: pick('sort', SORTS.map((s) => s[0])) || 'last_seen',
  };
}

S.list = initialList();
S.issues = null;
S.counts = null; // {unresolved, resolved, ignored, all, capped}
S.selected = new Set();
S.mergeArmed = false;

let seq = 0;

function query(status, limit) {
  const p = new URLSearchParams();
  const l = S.list;
  p.set('status', status);
  if (l.assigned) p.set('assigned', l.assigned);
  if (l.environment.trim()) p.set('environment', l.environment.trim());
  if (l.release.trim()) p.set('release', l.release.trim());
  if (l.query.trim()) p.set('query', l.query.trim());
  p.set('sort', l.sort);
  if (limit) p.set('limit', String(limit));
  return p.toString();
}

/** Loads the current tab and (one more call) the counts per status under the same filters. */
export async function loadIssues() {
  const mine = ++seq;
  const [tab, all] = await Promise.all([
    api(projectPath('/issues?' + query(S.list.status))),
    api(projectPath('/issues?' + query('all', COUNT_LIMIT))),
  ]);
  if (mine !== seq) return; // an answer to outdated filters
  const issues = Array.isArray(tab.issues) ? tab.issues : [];
  const counts = { unresolved: 0, resolved: 0, ignored: 0, all: 0, capped: false };
  (Array.isArray(all.issues) ? all.issues : []).forEach((i) => {
    counts.all++;
    if (counts[i.status] !== undefined) counts[i.status]++;
  });
  counts.capped = counts.all >= COUNT_LIMIT;
  // Keep the selection to what is still listed: a bulk action never reaches a hidden issue.
  const ids = new Set(issues.map((i) => str(i.id)));
  const selected = new Set([...S.selected].filter((id) => ids.has(id)));
  update({ issues, counts, selected, mergeArmed: S.mergeArmed && selected.size > 1 });
}

let debounceTimer = null;
function setList(patch, debounced) {
  S.list = { ...S.list, ...patch };
  update();
  clearTimeout(debounceTimer);
  const run = () => { if (S.token) loadIssues().catch(fail); };
  if (debounced) debounceTimer = setTimeout(run, 300);
  else run();
}

function toggle(id) {
  const selected = new Set(S.selected);
  if (selected.has(id)) selected.delete(id);
  else selected.add(id);
  update({ selected, mergeArmed: false });
}

function toggleAll() {
  const ids = (S.issues || []).map((i) => str(i.id));
  const all = ids.length > 0 && ids.every((id) => S.selected.has(id));
  update({ selected: all ? new Set() : new Set(ids), mergeArmed: false });
}

/** A click on a row (not on one of its controls) opens the issue. */
function openRow(e, id) {
  if (e.target instanceof Element && e.target.closest('a, button, input, select, label, .menu-wrap')) return;
  location.hash = 'issue=' + encodeURIComponent(id);
}

function onRowKey(e, id) {
  if (e.target !== e.currentTarget) return;
  if (e.key === 'Enter') {
    e.preventDefault();
    location.hash = 'issue=' + encodeURIComponent(id);
  } else if (e.key === ' ' || e.key === 'x') {
    e.preventDefault();
    toggle(id);
  }
}

function IssueRow({ issue }) {
  const id = str(issue.id);
  const checked = S.selected.has(id);
  const assignee = str(issue.assignedTo);
  return html`<tr class=${'clickable issue-row' + (checked ? ' checked' : '')} tabIndex="0"
      data-issue-id=${id} data-fingerprint=${str(issue.fingerprint)} data-event-id=${issue.last_event_id ? str(issue.last_event_id) : undefined}
      data-status=${str(issue.status)} data-substatus=${str(issue.substatus) || undefined}
      onClick=${(e) => openRow(e, id)} onKeyDown=${(e) => onRowKey(e, id)}>
    <td class="sel"><input type="checkbox" class="issue-select" checked=${checked} onChange=${() => toggle(id)} aria-label=${'Select issue ' + id} /></td>
    <td class="issue">
      <div class="issue-head">
        <${LevelBadge} level=${issue.level} />
        <a class="issue-title" href=${'#issue=' + encodeURIComponent(id)}>${str(issue.title) || '(untitled)'}</a>
      </div>
      <div class="issue-sub">
        ${issue.culprit ? html`<span class="issue-culprit muted">${str(issue.culprit)}</span>` : null}
        <${SubstatusBadge} substatus=${issue.substatus} />
        ${issue.status !== 'unresolved' ? html`<span class=${'status-badge status-' + str(issue.status)}>${statusText(issue)}</span>` : null}
        ${issue.note ? html`<span class="issue-note muted" title=${str(issue.note)}>📝 note</span>` : null}
      </div>
    </td>
    <td class="spark" data-label="24 h"><${Sparkline} points=${issue.sparkline_24h} /></td>
    <td class="num issue-count" data-label="Events">${count(issue.count)}</td>
    <td class="num issue-users" data-label="Users">${count(issue.userCount !== undefined ? issue.userCount : issue.users)}</td>
    <td class="issue-assignee" data-label="Assignee">${assignee ? html`<span class="avatar" title=${assignee}>${assignee.slice(0, 1).toUpperCase()}</span>` : null}<span class=${assignee ? '' : 'muted'}>${assignee ? assignee.replace(/@.*$/, '') : '—'}</span></td>
    <td class="nowrap issue-first-seen" data-label="First seen"><${Time} ms=${issue.first_seen} /></td>
    <td class="nowrap issue-last-seen" data-label="Last seen"><${Time} ms=${issue.last_seen} /></td>
  </tr>`;
}

function BulkBar({ ids }) {
  const n = ids.length;
  const merge = () => {
    if (!S.mergeArmed) return update({ mergeArmed: true });
    update({ mergeArmed: false });
    return changeIssues(ids, { merge: 1 }, 'Merged ' + n + ' issues.').then((out) => { if (out) update({ selected: new Set() }); });
  };
  return html`<div class="bulk-bar" id="bulk-bar" data-selected=${n}>
    <span class="bulk-count">${n ? n + ' selected' : 'Select issues for bulk actions'}</span>
    <${ResolveMenu} ids=${ids} scope="bulk" />
    <${SnoozeMenu} ids=${ids} scope="bulk" />
    <button type="button" class="secondary" data-action="unresolve" disabled=${!n || S.busy}
      onClick=${() => changeIssues(ids, { status: 'unresolved' }, 'Reopened.')}>Unresolve</button>
    <${AssignSelect} ids=${ids} scope="bulk" />
    <button type="button" class=${S.mergeArmed ? 'danger' : 'secondary'} data-action="merge" disabled=${n < 2 || S.busy}
      onClick=${merge}>${S.mergeArmed ? 'Confirm merge of ' + n : 'Merge'}</button>
    ${n ? html`<button type="button" class="link" onClick=${() => update({ selected: new Set(), mergeArmed: false })}>Clear</button>` : null}
  </div>`;
}

export function IssuesPanel() {
  const issues = S.issues || [];
  const l = S.list;
  const c = S.counts;
  const ids = issues.map((i) => str(i.id)).filter((id) => S.selected.has(id));
  const allChecked = issues.length > 0 && ids.length === issues.length;
  return html`<section id="issues" class="panel" aria-labelledby="issues-title">
    <div class="panel-head">
      <h2 id="issues-title">Issues</h2>
      <span id="issues-count" class="muted">${issues.length ? issues.length + (issues.length === 1 ? ' issue' : ' issues') : ''}</span>
    </div>
    <div class="tabs" role="tablist" aria-label="Status">
      ${TABS.map(([key, label]) => html`<button key=${key} type="button" role="tab" class="tab" data-tab=${key}
          aria-selected=${l.status === key ? 'true' : 'false'} onClick=${() => { update({ selected: new Set() }); setList({ status: key }); }}>
        ${label}${c ? html` <span class="tab-count">${c[key].toLocaleString() + (c.capped ? '+' : '')}</span>` : null}
      </button>`)}
    </div>
    <form class="filters issue-filters" autocomplete="off" onSubmit=${(e) => { e.preventDefault(); setList({}); }}>
      <label class="grow"><span>Search</span>
        <input id="issue-search" type="search" placeholder="Title or culprit" spellcheck="false" value=${l.query}
          onInput=${(e) => setList({ query: e.currentTarget.value }, true)} /></label>
      <label><span>Assigned</span>
        <select id="issue-assigned" value=${l.assigned} onChange=${(e) => setList({ assigned: e.currentTarget.value })}>
          <option value="">Anyone</option>
          <option value="none">Nobody</option>
          <option value="any">Somebody</option>
          ${S.team.map((m) => html`<option key=${m} value=${m}>${m === S.actor ? m + ' (me)' : m}</option>`)}
        </select></label>
      <label><span>Environment</span>
        <input id="issue-environment" type="text" size="10" placeholder="any" spellcheck="false" value=${l.environment}
          onInput=${(e) => setList({ environment: e.currentTarget.value }, true)} /></label>
      <label><span>Release</span>
        <input id="issue-release" type="text" size="10" placeholder="any" spellcheck="false" value=${l.release}
          onInput=${(e) => setList({ release: e.currentTarget.value }, true)} /></label>
      <label><span>Sort by</span>
        <select id="issue-sort" value=${l.sort} onChange=${(e) => setList({ sort: e.currentTarget.value })}>
          ${SORTS.map(([k, label]) => html`<option key=${k} value=${k}>${label}</option>`)}
        </select></label>
    </form>
    <${BulkBar} ids=${ids} />
    <div class="table-wrap">
      <table class="data issues-table">
        <thead>
          <tr>
            <th scope="col" class="sel"><input type="checkbox" id="select-all" checked=${allChecked} disabled=${!issues.length} onChange=${toggleAll} aria-label="Select all issues" /></th>
            <th scope="col">Issue</th><th scope="col">24 h</th><th scope="col" class="num">Events</th><th scope="col" class="num">Users</th>
            <th scope="col">Assignee</th><th scope="col">First seen</th><th scope="col">Last seen</th>
          </tr>
        </thead>
        <tbody>${issues.map((i) => html`<${IssueRow} key=${str(i.id)} issue=${i} />`)}</tbody>
      </table>
    </div>
    <p class="empty muted" hidden=${!S.issues || issues.length > 0}>${l.status === 'unresolved' && !l.query && !l.release && !l.environment && !l.assigned ? 'Inbox zero: no unresolved issues.' : 'No issues match.'}</p>
  </section>`;
}
