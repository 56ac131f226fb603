// Recent events (with search and time range) and one event's detail: stack, user, breadcrumbs,
// attachments, tags and the raw payload. All of it is sender text, rendered as text.
import {
  html, S, update, api, projectPath, fail, str, localTime, relativeTime, formatBytes, Time, LevelBadge, ApiError,
} from './lib.js';

S.events = null;
S.eventsFilter = { query: '', range: '', since: '', until: '', limit: '50' };
S.eventDetail = null; // {id, data, error}

let eventsSeq = 0;
let detailSeq = 0;

function eventsQuery() {
  const f = S.eventsFilter;
  const params = new URLSearchParams();
  if (f.query.trim()) params.set('query', f.query.trim());
  if (f.range === 'custom') {
    const since = f.since ? new Date(f.since).getTime() : NaN;
    const until = f.until ? new Date(f.until).getTime() : NaN;
    if (isFinite(since)) params.set('since', String(since));
    if (isFinite(until)) params.set('until', String(until));
  } else if (f.range) {
    params.set('since', String(Date.now() - Number(f.range)));
  }
  params.set('limit', f.limit || '50');
  return params.toString();
}

/** Loads the events list; an answer to an outdated query is dropped. */
export async function loadEvents() {
  const seq = ++eventsSeq;
  const data = await api(projectPath('/events?' + eventsQuery()));
  if (seq === eventsSeq) update({ events: Array.isArray(data.events) ? data.events : [] });
}

let debounceTimer = null;
function setFilter(patch, debounced) {
  S.eventsFilter = { ...S.eventsFilter, ...patch };
  update();
  clearTimeout(debounceTimer);
  const run = () => { if (S.token) loadEvents().catch(fail); };
  if (debounced) debounceTimer = setTimeout(run, 250);
  else run();
}

/** Opens one event in the detail panel (`keep`: a refresh, no "loading" flash). */
export async function selectEvent(id, keep) {
  if (!id) return;
  const seq = ++detailSeq;
  if (!keep || !S.eventDetail || S.eventDetail.id !== id) update({ eventDetail: { id, data: null, error: null } });
  try {
    const data = await api(projectPath('/events/' + encodeURIComponent(id)));
    if (seq === detailSeq) update({ eventDetail: { id, data, error: null } });
  } catch (err) {
    if (seq !== detailSeq) return;
    update({ eventDetail: { id, data: null, error: err } });
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) fail(err);
  }
}

export function closeEvent() {
  detailSeq++;
  update({ eventDetail: null });
}

function onRowKey(e, id) {
  if (e.key === 'Enter' || e.key === ' ') {
    e.preventDefault();
    selectEvent(id);
  }
}

function EventRow({ ev }) {
  const id = str(ev.event_id);
  const selected = S.eventDetail && S.eventDetail.id === id;
  return html`<tr class=${'clickable' + (selected ? ' selected' : '')} data-event-id=${id} tabIndex="0"
      onClick=${() => selectEvent(id)} onKeyDown=${(e) => onRowKey(e, id)}>
    <td class="nowrap"><${Time} ms=${ev.received_at} /></td>
    <td><${LevelBadge} level=${ev.level} /></td>
    <td class="event">
      <div class="event-line">
        ${ev.type ? html`<span class="event-type">${str(ev.type)}</span>` : null}
        <span class="event-message">${str(ev.message) || (ev.type ? '' : '(no message)')}</span>
      </div>
      <div class="event-meta muted">
        ${[ev.kind, ev.url, ev.user_email].filter(Boolean).map((v, i) => html`<span key=${i}>${str(v)}</span>`)}
      </div>
    </td>
    <td class="event-release">
      <div>${str(ev.release)}</div>
      ${ev.environment ? html`<div class="muted">${str(ev.environment)}</div>` : null}
    </td>
    <td class="num nowrap" data-label="Size">${formatBytes(ev.size)}</td>
  </tr>`;
}

export function EventsPanel() {
  const events = S.events || [];
  const f = S.eventsFilter;
  return html`<section id="events" class="panel" aria-labelledby="events-title">
    <div class="panel-head">
      <h2 id="events-title">Recent events</h2>
      <span id="events-count" class="muted">${S.events ? events.length + (events.length === 1 ? ' event' : ' events') : ''}</span>
    </div>
    <form id="events-filter" class="filters" autocomplete="off" onSubmit=${(e) => { e.preventDefault(); setFilter({}); }}>
      <label class="grow">
        <span class="sr-only">Search</span>
        <input id="search" type="search" placeholder="Search message, exception, URL, tags, user email" spellcheck="false"
          value=${f.query} onInput=${(e) => setFilter({ query: e.currentTarget.value }, true)} />
      </label>
      <label>
        <span>Time</span>
        <select id="range" value=${f.range} onChange=${(e) => setFilter({ range: e.currentTarget.value })}>
          <option value="">Any time</option>
          <option value="900000">Last 15 minutes</option>
          <option value="3600000">Last hour</option>
          <option value="86400000">Last 24 hours</option>
          <option value="604800000">Last 7 days</option>
          <option value="custom">Custom range</option>
        </select>
      </label>
      <label class="custom-range" hidden=${f.range !== 'custom'}><span>Since</span>
        <input id="since" type="datetime-local" step="1" value=${f.since} onChange=${(e) => setFilter({ since: e.currentTarget.value })} /></label>
      <label class="custom-range" hidden=${f.range !== 'custom'}><span>Until</span>
        <input id="until" type="datetime-local" step="1" value=${f.until} onChange=${(e) => setFilter({ until: e.currentTarget.value })} /></label>
      <label>
        <span>Show</span>
        <select id="limit" value=${f.limit} onChange=${(e) => setFilter({ limit: e.currentTarget.value })}>
          <option value="25">25</option>
          <option value="50">50</option>
          <option value="100">100</option>
          <option value="200">200</option>
        </select>
      </label>
    </form>
    <div class="table-wrap">
      <table class="data">
        <thead>
          <tr><th scope="col">Received</th><th scope="col">Level</th><th scope="col">Event</th><th scope="col">Release</th><th scope="col" class="num">Size</th></tr>
        </thead>
        <tbody>${events.map((ev) => html`<${EventRow} key=${str(ev.event_id)} ev=${ev} />`)}</tbody>
      </table>
    </div>
    <p class="empty muted" hidden=${!S.events || events.length > 0}>No events match.</p>
  </section>`;
}

function Summary({ rows }) {
  return rows.filter(([, v]) => v !== undefined && v !== null && v !== '').map(([label, value, cls]) => html`
    <dt key=${'t' + label}>${label}</dt><dd key=${'d' + label} class=${cls}>${value}</dd>`);
}

// Attachments need the bearer token, so they are fetched and handed to the browser as a blob.
async function downloadAttachment(eventId, seq, filename) {
  try {
    const path = projectPath('/events/' + encodeURIComponent(str(eventId)) + '/attachments/' + encodeURIComponent(String(seq)));
    const res = await fetch(path, { headers: { Authorization: 'Bearer ' + S.token } });
    if (!res.ok) throw new ApiError(res.status, 'download_failed', 'attachment download failed');
    const blob = await res.blob();
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = filename || 'attachment';
    document.body.appendChild(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  } catch (err) {
    fail(err);
  }
}

function breadcrumbsOf(raw) {
  // Sentry sends breadcrumbs as a list or as {values: [...]}.
  const crumbs = Array.isArray(raw) ? raw : (raw && Array.isArray(raw.values) ? raw.values : []);
  return crumbs.slice(-100).map((b) => (b && typeof b === 'object' ? b : {}));
}

function EventBody({ data }) {
  const ev = (data && data.event) || {};
  const payload = data && Object.prototype.hasOwnProperty.call(data, 'payload') ? data.payload : null;
  const p = payload && typeof payload === 'object' ? payload : {};
  // Frames arrive oldest first; show them like a stack, newest call on top.
  const frames = Array.isArray(ev.frames) ? ev.frames.slice().reverse() : [];
  const user = p.user && typeof p.user === 'object' && !Array.isArray(p.user) ? p.user : {};
  const userRows = ['id', 'email', 'username', 'ip_address', 'name']
    .filter((k) => user[k] !== undefined && user[k] !== null && typeof user[k] !== 'object')
    .map((k) => [k, str(user[k]), 'wrap']);
  const crumbs = breadcrumbsOf(p.breadcrumbs);
  const attachments = Array.isArray(ev.attachments) ? ev.attachments : [];
  const tags = ev.tags && typeof ev.tags === 'object' && !Array.isArray(ev.tags) ? ev.tags : {};
  const tagKeys = Object.keys(tags).sort();
  return html`<div id="detail-body">
    <p id="detail-headline" class="headline">${[ev.type, ev.message].filter(Boolean).map(str).join(': ') || '(no message)'}</p>
    ${ev.scrubbed && typeof ev.scrubbed === 'object' ? html`<p id="detail-scrubbed" class="muted">${str(ev.scrubbed.summary)}${Array.isArray(ev.scrubbed.redactions) && ev.scrubbed.redactions.length ? ': ' + ev.scrubbed.redactions.slice(0, 10).map((r) => str(r && r.path)).join(', ') : ''}</p>` : ''}
    <dl id="detail-summary" class="summary">
      <${Summary} rows=${[
        ['Event ID', ev.event_id, 'mono'],
        ['Received', ev.received_at ? localTime(ev.received_at) + ' (' + relativeTime(ev.received_at) + ')' : ''],
        ['Timestamp', ev.timestamp ? localTime(ev.timestamp) : ''],
        ['Level', ev.level ? html`<${LevelBadge} level=${ev.level} />` : ''],
        ['Kind', ev.kind], ['Type', ev.type], ['Message', ev.message, 'wrap'], ['URL', ev.url, 'wrap mono'],
        ['Release', ev.release], ['Environment', ev.environment], ['User', ev.user_email],
        ['Fingerprint', ev.fingerprint, 'mono wrap'], ['Size', ev.size !== undefined ? formatBytes(ev.size) : ''],
      ]} />
    </dl>
    <h3>Stack <span class="muted">(newest call first)</span></h3>
    ${frames.length ? html`<ol id="detail-frames" class="frames">
      ${frames.map((f, i) => {
        f = f || {};
        let loc = str(f.filename) || '<unknown>';
        if (f.lineno !== undefined && f.lineno !== null) loc += ':' + f.lineno;
        if (f.colno !== undefined && f.colno !== null) loc += ':' + f.colno;
        return html`<li key=${i} class=${'frame' + (f.in_app ? ' in-app' : '')}>
          <span class="frame-function">${str(f.function) || '<anonymous>'}</span>
          <span class="frame-location">${loc}</span>
          ${f.in_app ? html`<span class="frame-tag">in app</span>` : null}
        </li>`;
      })}
    </ol>` : html`<p id="detail-no-frames" class="muted">No stack trace.</p>`}
    <h3>User</h3>
    ${userRows.length ? html`<dl id="detail-user" class="summary"><${Summary} rows=${userRows} /></dl>` : html`<p class="muted">No user.</p>`}
    <h3>Breadcrumbs <span class="muted">(oldest first)</span></h3>
    ${crumbs.length ? html`<table id="detail-breadcrumbs" class="data compact">
      <thead><tr><th scope="col">Time</th><th scope="col">Category</th><th scope="col">Level</th><th scope="col">Message</th></tr></thead>
      <tbody>${crumbs.map((b, i) => {
        const ts = typeof b.timestamp === 'number' ? b.timestamp * 1000 : Date.parse(str(b.timestamp));
        const text = b.message !== undefined ? str(b.message) : (b.data ? JSON.stringify(b.data) : '');
        return html`<tr key=${i}>
          <td class="mono">${isFinite(ts) ? new Date(ts).toISOString().slice(11, 23) : ''}</td>
          <td>${str(b.category || b.type)}</td><td>${str(b.level)}</td><td class="wrap">${text}</td>
        </tr>`;
      })}</tbody>
    </table>` : html`<p class="muted">No breadcrumbs.</p>`}
    <h3>Attachments</h3>
    ${attachments.length ? html`<ul id="detail-attachments" class="attachments">
      ${attachments.map((a, i) => html`<li key=${i}>
        <button type="button" class="secondary" onClick=${() => downloadAttachment(ev.event_id, a.seq, str(a.filename))}>${str(a.filename) || 'attachment'}</button>
        <span class="muted">${' ' + str(a.content_type) + ' · ' + formatBytes(Number(a.size) || 0)}</span>
      </li>`)}
    </ul>` : html`<p class="muted">No attachments.</p>`}
    <h3>Tags</h3>
    ${tagKeys.length ? html`<table id="detail-tags" class="data tags"><tbody>
      ${tagKeys.map((k) => html`<tr key=${k}><th>${k}</th><td>${typeof tags[k] === 'string' ? tags[k] : JSON.stringify(tags[k])}</td></tr>`)}
    </tbody></table>` : html`<p class="muted">No tags.</p>`}
    <h3>Raw payload</h3>
    <pre id="detail-payload" class="payload">${payload === null ? '(no payload stored)' : JSON.stringify(payload, null, 2)}</pre>
  </div>`;
}

/**
 * The event detail panel. `detail` is {id, data, error} or null; `closable` adds the Close button
 * (the list page; on the issue page it shows the issue's latest event).
 */
export function EventDetail({ detail, closable, title }) {
  const d = detail;
  let placeholder = 'Select an issue or an event to see its details.';
  if (d && d.error) placeholder = d.error instanceof ApiError && d.error.status === 404 ? 'This event is no longer stored.' : String(d.error.message || d.error);
  else if (d && !d.data) placeholder = 'Loading event ' + d.id + '…';
  return html`<aside id="event-detail" class="panel detail" aria-labelledby="detail-title" aria-live="polite"
      data-event-id=${d && d.data ? str(d.data.event && d.data.event.event_id) : undefined}>
    <div class="panel-head">
      <h2 id="detail-title">${title || 'Event'}</h2>
      ${closable && d ? html`<button type="button" id="detail-close" class="secondary" onClick=${closeEvent}>Close</button>` : null}
    </div>
    ${d && d.data ? html`<${EventBody} data=${d.data} />` : html`<p id="detail-placeholder" class="muted">${placeholder}</p>`}
  </aside>`;
}
