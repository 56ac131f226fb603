// Issue actions shared by the list (bulk) and the issue page: the resolve and snooze menus, the
// assignee picker, and the PUT that carries Sentry's vocabulary.
import { html, S, update, api, projectPath, fail, info, toggleMenu, str } from './lib.js';

/** Snooze choices: label and the Sentry `statusDetails` they send. */
export const SNOOZES = [
  { key: 'c1', label: 'Until 1 more event', details: { ignoreCount: 1 } },
  { key: 'c10', label: 'Until 10 more events', details: { ignoreCount: 10 } },
  { key: 'c100', label: 'Until 100 more events', details: { ignoreCount: 100 } },
  { key: 'c1000', label: 'Until 1000 more events', details: { ignoreCount: 1000 } },
  { key: 'd60', label: 'For 1 hour', details: { ignoreDuration: 60 } },
  { key: 'd1440', label: 'For 24 hours', details: { ignoreDuration: 1440 } },
  { key: 'd10080', label: 'For 7 days', details: { ignoreDuration: 10080 } },
  { key: 'esc', label: 'Until it escalates', details: { ignoreUntilEscalating: true } },
  { key: 'forever', label: 'Forever', details: null },
];

let afterChange = () => {};

/** What runs after a successful change (the page refresh). */
export function onChanged(fn) {
  afterChange = fn;
}

/**
 * Sends one Sentry-style change to the issues `ids` (one id: `PUT /issues/{id}`, more: the bulk
 * `PUT /issues?id=…`). Resolves to the changed issues, or null when the API refused (shown).
 */
export async function changeIssues(ids, body, done) {
  if (!ids.length) return null;
  update({ busy: true, menu: null });
  try {
    const path = ids.length === 1
      ? projectPath('/issues/' + encodeURIComponent(ids[0]))
      : projectPath('/issues?' + ids.map((id) => 'id=' + encodeURIComponent(id)).join('&'));
    const out = await api(path, { method: 'PUT', body });
    info(done || 'Updated ' + ids.length + (ids.length === 1 ? ' issue' : ' issues') + '.');
    await afterChange(out);
    return out;
  } catch (err) {
    fail(err);
    return null;
  } finally {
    update({ busy: false });
  }
}

function MenuButton({ menuKey, label, disabled, testid }) {
  return html`<button type="button" class="secondary menu-button" disabled=${disabled}
    aria-haspopup="menu" aria-expanded=${S.menu === menuKey ? 'true' : 'false'} data-menu=${testid}
    onClick=${() => toggleMenu(menuKey)}>${label} ▾</button>`;
}

/** Resolve: now, in the next release, or in a named release (asked in the menu). */
export function ResolveMenu({ ids, scope }) {
  const key = 'resolve:' + scope;
  const open = S.menu === key;
  const disabled = !ids.length || S.busy;
  const resolve = (details, what) => changeIssues(ids, details ? { status: 'resolved', statusDetails: details } : { status: 'resolved' }, what);
  const submitRelease = (e) => {
    e.preventDefault();
    const release = str(new FormData(e.currentTarget).get('release')).trim();
    if (release) resolve({ inRelease: release }, 'Resolved in ' + release + '.');
  };
  return html`<span class="menu-wrap">
    <${MenuButton} menuKey=${key} label="Resolve" disabled=${disabled} testid="resolve" />
    ${open && html`<div class="menu" role="menu" data-menu-for="resolve">
      <button type="button" role="menuitem" data-action="resolve-now" onClick=${() => resolve(null, 'Resolved.')}>Now</button>
      <button type="button" role="menuitem" data-action="resolve-next" onClick=${() => resolve({ inNextRelease: true }, 'Resolved in the next release.')}>In the next release</button>
      <form class="menu-form" onSubmit=${submitRelease}>
        <label>In release <input name="release" type="text" placeholder="1.4.0" required spellcheck="false" size="10" /></label>
        <button type="submit" data-action="resolve-in">Resolve</button>
      </form>
    </div>`}
  </span>`;
}

/** Snooze (ignore) until a count, for a time, until escalating, or forever. */
export function SnoozeMenu({ ids, scope }) {
  const key = 'snooze:' + scope;
  const open = S.menu === key;
  const disabled = !ids.length || S.busy;
  const snooze = (s) => changeIssues(ids, s.details ? { status: 'ignored', statusDetails: s.details } : { status: 'ignored' }, 'Snoozed: ' + s.label.toLowerCase() + '.');
  return html`<span class="menu-wrap">
    <${MenuButton} menuKey=${key} label="Snooze" disabled=${disabled} testid="snooze" />
    ${open && html`<div class="menu" role="menu" data-menu-for="snooze">
      ${SNOOZES.map((s) => html`<button type="button" role="menuitem" key=${s.key} data-snooze=${s.key} onClick=${() => snooze(s)}>${s.label}</button>`)}
    </div>`}
  </span>`;
}

/** Assign to a team member (or nobody). `current` is the issue's assignee, if one issue. */
export function AssignSelect({ ids, current, scope }) {
  const onChange = (e) => {
    const v = e.currentTarget.value;
    if (v === '__') return;
    changeIssues(ids, { assignedTo: v === '' ? null : v }, v ? 'Assigned to ' + v + '.' : 'Unassigned.');
  };
  const value = current === undefined ? '__' : (current || '');
  return html`<label class="assign">
    <span class="sr-only">Assign</span>
    <select data-assign=${scope} disabled=${!ids.length || S.busy} value=${value} onChange=${onChange}>
      ${current === undefined && html`<option value="__">Assign to…</option>`}
      <option value="">Unassigned</option>
      ${S.team.map((m) => html`<option key=${m} value=${m}>${m}</option>`)}
      ${current && !S.team.includes(current) && html`<option value=${current}>${current}</option>`}
    </select>
  </label>`;
}
