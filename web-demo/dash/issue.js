// One issue (route #issue=<id>): status and actions, counts, 7 days of hourly events against the
// escalation ceiling (uPlot), tag breakdown, note, activity log and the latest event.
import {
  html, S, update, api, projectPath, str, count, localTime, Time, LevelBadge, SubstatusBadge, statusText, ApiError,
} from './lib.js';
import { TimeChart } from './chart.js';
import { ResolveMenu, SnoozeMenu, AssignSelect, changeIssues } from './triage.js';
import { EventDetail, selectEvent } from './events.js';

S.issue = null; // {id, data, error}
S.noteDraft = null; // the note being edited (null: not editing)

const HOURS = 7 * 24;

export async function loadIssue(id) {
  try {
    const data = await api(projectPath('/issues/' + encodeURIComponent(id)));
    if (S.route.page !== 'issue' || S.route.id !== id) return;
    const prev = S.issue && S.issue.data;
    update({ issue: { id, data: withChart(data, prev), error: null } });
    const last = str(data.last_event_id);
    if (last && (!S.eventDetail || S.eventDetail.id !== last)) selectEvent(last, true);
  } catch (err) {
    if (S.route.page !== 'issue' || S.route.id !== id) return;
    update({ issue: { id, data: null, error: err } });
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) throw err;
  }
}

/** Hour slots of the last 7 days (zeros filled in) and the ceiling as a flat line. */
function withChart(data, prev) {
  const hourly = Array.isArray(data.hourly) ? data.hourly : [];
  const sig = JSON.stringify(hourly) + '|' + str(data.ceiling);
  if (prev && prev.chartSig === sig) return { ...data, chart: prev.chart, chartSig: sig };
  const nowHour = Math.floor(Date.now() / 3600000);
  const xs = [];
  const ys = [];
  const byHour = new Map(hourly.map((h) => [Number(h.hour), Number(h.count) || 0]));
  for (let hr = nowHour - HOURS + 1; hr <= nowHour; hr++) {
    xs.push(hr * 3600);
    ys.push(byHour.get(hr) || 0);
  }
  const ceiling = typeof data.ceiling === 'number' ? data.ceiling : null;
  const chart = ceiling === null ? [xs, ys] : [xs, ys, xs.map(() => ceiling)];
  return { ...data, chart, chartSig: sig };
}

function TagBreakdown({ tags, sample }) {
  const keys = ['release', 'environment', 'browser', 'url'].filter((k) => Array.isArray(tags[k]) && tags[k].length);
  if (!keys.length) return html`<p class="muted">No events stored to break down.</p>`;
  const total = Math.max(1, Number(sample) || 0);
  return html`<div class="tag-grid" id="issue-tags">
    ${keys.map((k) => html`<div key=${k} class="tag-block" data-tag=${k}>
      <h4>${k}</h4>
      <ul class="tag-values">
        ${tags[k].map((t, i) => {
          const pct = Math.round(((Number(t.count) || 0) / total) * 100);
          return html`<li key=${i}>
            <span class="tag-value" title=${str(t.value)}>${str(t.value)}</span>
            <span class="tag-count">${count(t.count)}</span>
            <svg class="tag-bar" viewBox="0 0 100 6" preserveAspectRatio="none" aria-hidden="true"><rect x="0" y="0" width=${Math.max(1, pct)} height="6" /></svg>
          </li>`;
        })}
      </ul>
    </div>`)}
  </div>`;
}

const KIND_LABELS = {
  first_seen: 'First seen', resolved: 'Resolved', unresolved: 'Reopened', ignored: 'Snoozed', regressed: 'Regressed',
  escalating: 'Escalating', snooze_woke: 'Snooze ended', assigned: 'Assigned', unassigned: 'Unassigned', note: 'Note',
  merged: 'Merged',
};

function Activity({ rows }) {
  if (!rows.length) return html`<p class="muted">No activity yet.</p>`;
  return html`<ol class="activity" id="issue-activity">
    ${rows.map((a, i) => html`<li key=${i} class=${'activity-row activity-' + str(a.kind)} data-kind=${str(a.kind)}>
      <span class="activity-when"><${Time} ms=${a.at} /></span>
      <span class="activity-kind">${KIND_LABELS[a.kind] || str(a.kind)}</span>
      <span class="activity-actor">${str(a.actor)}</span>
      ${a.detail ? html`<span class="activity-detail">${str(a.detail)}</span>` : null}
    </li>`)}
  </ol>`;
}

function NoteField({ issue }) {
  const saved = str(issue.note);
  const draft = S.noteDraft === null ? saved : S.noteDraft;
  const save = async (e) => {
    e.preventDefault();
    const out = await changeIssues([str(issue.id)], { note: draft }, 'Note saved.');
    if (out) update({ noteDraft: null });
  };
  // Only a plain web address becomes a link; anything else stays text.
  const link = /^https?:\/\/\S+$/i.test(saved) ? saved : null;
  return html`<form class="note-form" id="issue-note" onSubmit=${save}>
    <label for="note-input">Note or link <span class="muted">(a ticket, a PR, what was tried)</span></label>
    <div class="inline-form">
      <input id="note-input" type="text" value=${draft} spellcheck="false" placeholder="https://github.com/org/app/issues/1"
        onInput=${(e) => update({ noteDraft: e.currentTarget.value })} />
      <button type="submit" class="secondary" disabled=${S.busy || draft === saved}>Save note</button>
    </div>
    ${link ? html`<a class="note-link" href=${link} rel="noopener noreferrer" target="_blank">${link}</a>` : null}
  </form>`;
}

export function IssuePage() {
  const st = S.issue;
  const back = html`<a class="back" href="#" onClick=${(e) => { e.preventDefault(); location.hash = ''; }}>← All issues</a>`;
  if (!st || (!st.data && !st.error)) return html`<main class="issue-page">${back}<p class="muted">Loading issue ${S.route.id}…</p></main>`;
  if (st.error) {
    const text = st.error instanceof ApiError && st.error.status === 404 ? 'No issue ' + S.route.id + ' in this project (merged away?).' : String(st.error.message);
    return html`<main class="issue-page">${back}<p class="notice" id="issue-error">${text}</p></main>`;
  }
  const i = st.data;
  const id = str(i.id);
  const ids = [id];
  const ceiling = typeof i.ceiling === 'number' ? i.ceiling : null;
  const series = [{ label: 'Events / hour', color: '#2456c8', bars: true }];
  if (ceiling !== null) series.push({ label: 'Escalation ceiling', color: '#c21f32', dash: [6, 4] });
  return html`<main class="issue-page" id="issue-detail" data-issue-id=${id} data-status=${str(i.status)}>
    ${back}
    <section class="panel issue-header">
      <div class="issue-title-line">
        <${LevelBadge} level=${i.level} />
        <h2 class="issue-detail-title">${str(i.title) || '(untitled)'}</h2>
      </div>
      ${i.culprit ? html`<p class="issue-culprit muted">${str(i.culprit)}</p>` : null}
      <div class="issue-status-line">
        <span class=${'status-badge status-' + str(i.status)} id="issue-status">${statusText(i)}</span>
        <${SubstatusBadge} substatus=${i.substatus} />
        <span class="muted">#${id}</span>
      </div>
      <div class="issue-actions">
        <${ResolveMenu} ids=${ids} scope="detail" />
        <${SnoozeMenu} ids=${ids} scope="detail" />
        ${i.status !== 'unresolved' ? html`<button type="button" class="secondary" data-action="unresolve" disabled=${S.busy}
          onClick=${() => changeIssues(ids, { status: 'unresolved' }, 'Reopened.')}>Unresolve</button>` : null}
        <${AssignSelect} ids=${ids} current=${i.assignedTo || ''} scope="detail" />
      </div>
      <dl class="issue-facts">
        <div><dt>Events</dt><dd id="issue-events">${count(i.count)}</dd></div>
        <div><dt>Users affected</dt><dd id="issue-users">${count(i.userCount !== undefined ? i.userCount : i.users)}</dd></div>
        <div><dt>This hour</dt><dd>${count(i.this_hour)}${ceiling !== null ? html` <span class="muted">/ ceiling ${count(ceiling)}</span>` : null}</dd></div>
        <div><dt>First seen</dt><dd><${Time} ms=${i.first_seen} /><div class="muted small">${localTime(i.first_seen)}</div></dd></div>
        <div><dt>Last seen</dt><dd><${Time} ms=${i.last_seen} /><div class="muted small">${localTime(i.last_seen)}</div></dd></div>
      </dl>
      <${NoteField} issue=${i} />
    </section>
    <div class="issue-columns">
      <div class="issue-main">
        <section class="panel" id="issue-chart">
          <div class="panel-head"><h3>Events per hour, last 7 days</h3>
            <span class="muted">${ceiling !== null ? 'above the red line it counts as escalating' : ''}</span></div>
          <${TimeChart} label="Events per hour with the escalation ceiling" height=${180} series=${series} data=${i.chart} />
        </section>
        <section class="panel">
          <div class="panel-head"><h3>Tags</h3><span class="muted">of the latest ${count(i.tags_sample)} events</span></div>
          <${TagBreakdown} tags=${i.tags || {}} sample=${i.tags_sample} />
        </section>
        <${EventDetail} detail=${S.eventDetail} title="Latest event" />
      </div>
      <aside class="issue-side">
        <section class="panel">
          <div class="panel-head"><h3>Activity</h3></div>
          <${Activity} rows=${Array.isArray(i.activity) ? i.activity : []} />
        </section>
        <section class="panel">
          <div class="panel-head"><h3>Fingerprints</h3></div>
          <ul class="fingerprints mono">${(i.fingerprints || []).map((f, k) => html`<li key=${k}>${str(f)}</li>`)}</ul>
        </section>
      </aside>
    </div>
  </main>`;
}
