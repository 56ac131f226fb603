// Backstop dashboard: reads the admin API and renders stats, issues, events and one event.
// Every value that comes from an event is attacker-controlled: it only ever reaches the page
// through textContent / setAttribute (never innerHTML), and URLs from events are never made links.
'use strict';

(function () {
  var PROJECT_KEY = 'backstop.project';
  var REFRESH_MS = 2000;
  var REASONS = ['accepted', 'too_large', 'rate_limited', 'unauthorized', 'invalid'];
  var REASON_LABELS = {
    accepted: 'Accepted',
    too_large: 'Too large',
    rate_limited: 'Rate limited',
    unauthorized: 'Unauthorized',
    invalid: 'Invalid',
  };

  var $ = function (id) { return document.getElementById(id); };

  var state = {
    token: null,
    project: '1',
    paused: false,
    timer: null,
    inFlight: false,
    eventsSeq: 0,
    selectedEventId: null,
    detailSeq: 0,
    lastOk: null,
  };

  // ---- small DOM helpers -----------------------------------------------------------------------

  /** Creates an element; `text` is set with textContent (safe for any string). */
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  /** Names a table cell for the narrow layout, where the header row is hidden. */
  function labelled(td, label) {
    td.setAttribute('data-label', label);
    return td;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function str(v) {
    return v === undefined || v === null ? '' : String(v);
  }

  function isoTime(ms) {
    var n = Number(ms);
    if (!isFinite(n) || n <= 0) return '';
    return new Date(n).toISOString();
  }

  function localTime(ms) {
    var n = Number(ms);
    if (!isFinite(n) || n <= 0) return '—';
    var d = new Date(n);
    return d.toLocaleString([], { hour12: false });
  }

  function relativeTime(ms) {
    var n = Number(ms);
    if (!isFinite(n) || n <= 0) return '—';
    var s = Math.round((Date.now() - n) / 1000);
    if (s < -5) return 'in the future';
    if (s < 5) return 'just now';
    if (s < 60) return s + ' s ago';
    var m = Math.floor(s / 60);
    if (m < 60) return m + ' min ago';
    var h = Math.floor(m / 60);
    if (h < 48) return h + ' h ago';
    return Math.floor(h / 24) + ' days ago';
  }

  /** A <time> element showing a relative time with the exact time as tooltip. */
  function timeCell(ms) {
    var t = el('time', null, relativeTime(ms));
    var iso = isoTime(ms);
    if (iso) {
      t.setAttribute('datetime', iso);
      t.title = localTime(ms);
    }
    return t;
  }

  function formatBytes(n) {
    var v = Number(n);
    if (!isFinite(v) || v < 0) return '';
    if (v < 1024) return v + ' B';
    if (v < 1024 * 1024) return (v / 1024).toFixed(1) + ' KB';
    return (v / (1024 * 1024)).toFixed(2) + ' MB';
  }

  function levelBadge(level) {
    var l = str(level) || 'error';
    var known = ['fatal', 'error', 'warning', 'info', 'debug'].indexOf(l) >= 0 ? l : 'other';
    return el('span', 'level level-' + known, l);
  }

  // ---- token and project -----------------------------------------------------------------------

  function readToken() {
    return window.BackstopAdminToken.read();
  }

  function setToken(token) {
    state.token = token || null;
    window.BackstopAdminToken.save(state.token);
    $('forget-token').hidden = !state.token;
    showAuthForm(!state.token);
  }

  function showAuthForm(show) {
    $('auth').hidden = !show;
    if (show) $('token-input').focus();
  }

  // ---- notices ---------------------------------------------------------------------------------

  function setNotice(text, kind) {
    var n = $('notice');
    if (!text) {
      n.hidden = true;
      n.textContent = '';
      n.removeAttribute('data-status');
      return;
    }
    n.hidden = false;
    n.className = 'notice notice-' + (kind || 'error');
    n.textContent = text;
  }

  function describeError(err) {
    if (!(err instanceof ApiError)) {
      return 'Cannot reach the Backstop API: ' + str(err && err.message ? err.message : err);
    }
    var server = [err.error, err.detail].filter(Boolean).join(': ');
    var suffix = server ? ' (server said: ' + server + ')' : '';
    switch (err.status) {
      case 401:
        return '401 Unauthorized: the admin token is missing or wrong. Paste a valid token below.' + suffix;
      case 403:
        return '403 Forbidden: this token may not read project "' + state.project + '".' + suffix;
      case 404:
        return '404 Not found: no such project or event.' + suffix;
      case 503:
        return '503 Service unavailable: the admin API is not available (is an admin token configured on the worker?).' + suffix;
      default:
        return 'HTTP ' + err.status + ' from the Backstop API.' + suffix;
    }
  }

  // ---- API -------------------------------------------------------------------------------------

  function ApiError(status, error, detail) {
    this.name = 'ApiError';
    this.status = status;
    this.error = error;
    this.detail = detail;
    this.message = 'HTTP ' + status + (error ? ' ' + error : '');
  }
  ApiError.prototype = Object.create(Error.prototype);

  function projectPath(suffix) {
    return '/api/' + encodeURIComponent(state.project) + suffix;
  }

  function api(path) {
    var headers = { Accept: 'application/json' };
    if (state.token) headers.Authorization = 'Bearer ' + state.token;
    return fetch(path, { headers: headers, cache: 'no-store' }).then(function (res) {
      return res.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (_) { body = null; }
        if (!res.ok) {
          var error = body && typeof body === 'object' ? body.error : null;
          var detail = body && typeof body === 'object' ? body.detail : null;
          throw new ApiError(res.status, str(error) || null, str(detail) || (body ? null : text.slice(0, 200)));
        }
        if (body === null) throw new ApiError(res.status, 'invalid response', 'expected JSON');
        return body;
      });
    });
  }

  // ---- stats -----------------------------------------------------------------------------------

  function renderStats(data) {
    renderStatsExtra(data);
    var totals = (data && data.totals) || {};
    var minutes = (data && Array.isArray(data.minutes)) ? data.minutes : [];
    var hourAgo = Date.now() - 3600 * 1000;
    var lastHour = {};
    minutes.forEach(function (m) {
      if (Number(m.minute) >= hourAgo) {
        lastHour[m.reason] = (lastHour[m.reason] || 0) + (Number(m.count) || 0);
      }
    });

    var reasons = REASONS.slice();
    Object.keys(totals).forEach(function (r) { if (reasons.indexOf(r) < 0) reasons.push(r); });

    var list = $('counters');
    clear(list);
    reasons.forEach(function (reason) {
      var value = Number(totals[reason]) || 0;
      var li = el('li', 'counter counter-' + (reason === 'accepted' ? 'accepted' : 'drop'));
      li.setAttribute('data-reason', reason);
      if (value > 0) li.classList.add('nonzero');
      li.appendChild(el('span', 'counter-value', value.toLocaleString()));
      li.appendChild(el('span', 'counter-label', REASON_LABELS[reason] || reason));
      li.appendChild(el('span', 'counter-recent', (lastHour[reason] || 0).toLocaleString() + ' in the last hour'));
      list.appendChild(li);
    });
  }

  function renderStatsExtra(data) {
    var drops = (data && Array.isArray(data.client_discarded)) ? data.client_discarded : [];
    var dropBody = $('client-drops').querySelector('tbody');
    clear(dropBody);
    drops.forEach(function (d) {
      var tr = el('tr');
      tr.appendChild(el('td', 'mono', str(d.reason)));
      tr.appendChild(el('td', null, str(d.category)));
      tr.appendChild(el('td', 'num', (Number(d.quantity) || 0).toLocaleString()));
      dropBody.appendChild(tr);
    });
    $('client-drops').hidden = drops.length === 0;
    $('client-drops-empty').hidden = drops.length > 0;

    var sessions = (data && Array.isArray(data.sessions)) ? data.sessions : [];
    var sessionBody = $('sessions').querySelector('tbody');
    clear(sessionBody);
    sessions.forEach(function (r) {
      var tr = el('tr');
      tr.appendChild(el('td', 'mono', str(r.release) || '(none)'));
      tr.appendChild(el('td', null, str(r.environment)));
      tr.appendChild(el('td', 'num', (Number(r.started) || 0).toLocaleString()));
      tr.appendChild(el('td', 'num', (Number(r.crashed) || 0).toLocaleString()));
      var rate = typeof r.crash_free_rate === 'number' ? (r.crash_free_rate * 100).toFixed(1) + ' %' : '–';
      tr.appendChild(el('td', 'num', rate));
      sessionBody.appendChild(tr);
    });
    $('sessions').hidden = sessions.length === 0;
    $('sessions-empty').hidden = sessions.length > 0;

    var items = (data && data.items && typeof data.items === 'object') ? data.items : {};
    var list = $('items');
    clear(list);
    Object.keys(items).sort().forEach(function (k) {
      var li = el('li', null);
      li.setAttribute('data-item', k);
      li.appendChild(el('span', 'item-count', (Number(items[k]) || 0).toLocaleString()));
      li.appendChild(el('span', 'item-name', k));
      list.appendChild(li);
    });
  }

  // ---- issues ----------------------------------------------------------------------------------

  function renderIssues(data) {
    var issues = (data && Array.isArray(data.issues)) ? data.issues : [];
    var section = $('issues');
    var tbody = section.querySelector('tbody');
    clear(tbody);
    issues.forEach(function (issue) {
      var tr = el('tr', 'clickable');
      tr.setAttribute('data-fingerprint', str(issue.fingerprint));
      if (issue.last_event_id) {
        tr.setAttribute('data-event-id', str(issue.last_event_id));
        tr.tabIndex = 0;
        if (str(issue.last_event_id) === state.selectedEventId) tr.classList.add('selected');
      }

      var main = el('td', 'issue');
      main.appendChild(el('div', 'issue-title', str(issue.title) || '(untitled)'));
      if (issue.culprit) main.appendChild(el('div', 'issue-culprit muted', str(issue.culprit)));
      tr.appendChild(main);

      var level = el('td');
      level.appendChild(levelBadge(issue.level));
      tr.appendChild(level);

      tr.appendChild(labelled(el('td', 'num issue-count', Number(issue.count || 0).toLocaleString()), 'Events'));
      var first = labelled(el('td', 'nowrap'), 'First seen');
      first.appendChild(timeCell(issue.first_seen));
      tr.appendChild(first);
      var last = labelled(el('td', 'nowrap issue-last-seen'), 'Last seen');
      last.appendChild(timeCell(issue.last_seen));
      tr.appendChild(last);
      tbody.appendChild(tr);
    });
    section.querySelector('.empty').hidden = issues.length > 0;
    $('issues-count').textContent = issues.length ? issues.length + (issues.length === 1 ? ' issue' : ' issues') : '';
  }

  // ---- events ----------------------------------------------------------------------------------

  function eventsQuery() {
    var params = new URLSearchParams();
    var q = $('search').value.trim();
    if (q) params.set('query', q);
    var range = $('range').value;
    if (range === 'custom') {
      var since = $('since').value ? new Date($('since').value).getTime() : NaN;
      var until = $('until').value ? new Date($('until').value).getTime() : NaN;
      if (isFinite(since)) params.set('since', String(since));
      if (isFinite(until)) params.set('until', String(until));
    } else if (range) {
      params.set('since', String(Date.now() - Number(range)));
    }
    params.set('limit', $('limit').value || '50');
    return params.toString();
  }

  function renderEvents(data) {
    var events = (data && Array.isArray(data.events)) ? data.events : [];
    var section = $('events');
    var tbody = section.querySelector('tbody');
    clear(tbody);
    events.forEach(function (ev) {
      var id = str(ev.event_id);
      var tr = el('tr', 'clickable');
      tr.setAttribute('data-event-id', id);
      tr.tabIndex = 0;
      if (id && id === state.selectedEventId) tr.classList.add('selected');

      var when = el('td', 'nowrap');
      when.appendChild(timeCell(ev.received_at));
      tr.appendChild(when);

      var level = el('td');
      level.appendChild(levelBadge(ev.level));
      tr.appendChild(level);

      var main = el('td', 'event');
      var line = el('div', 'event-line');
      if (ev.type) line.appendChild(el('span', 'event-type', str(ev.type)));
      line.appendChild(el('span', 'event-message', str(ev.message) || (ev.type ? '' : '(no message)')));
      main.appendChild(line);
      var meta = el('div', 'event-meta muted');
      [ev.kind, ev.url, ev.user_email].filter(Boolean).forEach(function (v) {
        meta.appendChild(el('span', null, str(v)));
      });
      main.appendChild(meta);
      tr.appendChild(main);

      var release = el('td', 'event-release');
      release.appendChild(el('div', null, str(ev.release)));
      if (ev.environment) release.appendChild(el('div', 'muted', str(ev.environment)));
      tr.appendChild(release);

      tr.appendChild(labelled(el('td', 'num nowrap', formatBytes(ev.size)), 'Size'));
      tbody.appendChild(tr);
    });
    section.querySelector('.empty').hidden = events.length > 0;
    $('events-count').textContent = events.length + (events.length === 1 ? ' event' : ' events');
  }

  function loadEvents() {
    var seq = ++state.eventsSeq;
    return api(projectPath('/events?' + eventsQuery())).then(function (data) {
      if (seq === state.eventsSeq) renderEvents(data); // drop answers to outdated queries
    });
  }

  // ---- event detail ----------------------------------------------------------------------------

  function addSummary(dl, label, value, className) {
    if (value === undefined || value === null || value === '') return;
    dl.appendChild(el('dt', null, label));
    var dd = el('dd', className || null);
    if (value instanceof Node) dd.appendChild(value);
    else dd.textContent = String(value);
    dl.appendChild(dd);
  }

  function renderDetail(data) {
    var ev = (data && data.event) || {};
    $('detail-placeholder').hidden = true;
    $('detail-body').hidden = false;
    $('detail-close').hidden = false;
    $('event-detail').setAttribute('data-event-id', str(ev.event_id));

    $('detail-headline').textContent =
      [ev.type, ev.message].filter(Boolean).map(str).join(': ') || '(no message)';

    var dl = $('detail-summary');
    clear(dl);
    addSummary(dl, 'Event ID', ev.event_id, 'mono');
    addSummary(dl, 'Received', ev.received_at ? localTime(ev.received_at) + ' (' + relativeTime(ev.received_at) + ')' : '');
    addSummary(dl, 'Timestamp', ev.timestamp ? localTime(ev.timestamp) : '');
    addSummary(dl, 'Level', ev.level ? levelBadge(ev.level) : '');
    addSummary(dl, 'Kind', ev.kind);
    addSummary(dl, 'Type', ev.type);
    addSummary(dl, 'Message', ev.message, 'wrap');
    addSummary(dl, 'URL', ev.url, 'wrap mono');
    addSummary(dl, 'Release', ev.release);
    addSummary(dl, 'Environment', ev.environment);
    addSummary(dl, 'User', ev.user_email);
    addSummary(dl, 'Fingerprint', ev.fingerprint, 'mono wrap');
    addSummary(dl, 'Size', ev.size !== undefined ? formatBytes(ev.size) : '');

    // Frames arrive oldest first; show them like a stack, newest call on top.
    var frames = Array.isArray(ev.frames) ? ev.frames.slice().reverse() : [];
    var ol = $('detail-frames');
    clear(ol);
    frames.forEach(function (f) {
      f = f || {};
      var li = el('li', 'frame' + (f.in_app ? ' in-app' : ''));
      li.appendChild(el('span', 'frame-function', str(f.function) || '<anonymous>'));
      var loc = str(f.filename) || '<unknown>';
      if (f.lineno !== undefined && f.lineno !== null) loc += ':' + f.lineno;
      if (f.colno !== undefined && f.colno !== null) loc += ':' + f.colno;
      li.appendChild(el('span', 'frame-location', loc));
      if (f.in_app) li.appendChild(el('span', 'frame-tag', 'in app'));
      ol.appendChild(li);
    });
    $('detail-no-frames').hidden = frames.length > 0;

    var tags = ev.tags && typeof ev.tags === 'object' ? ev.tags : {};
    var tagKeys = Array.isArray(tags) ? [] : Object.keys(tags).sort();
    var tagBody = $('detail-tags').querySelector('tbody');
    clear(tagBody);
    tagKeys.forEach(function (k) {
      var tr = el('tr');
      tr.appendChild(el('th', null, k));
      var v = tags[k];
      tr.appendChild(el('td', null, typeof v === 'string' ? v : JSON.stringify(v)));
      tagBody.appendChild(tr);
    });
    $('detail-tags').hidden = tagKeys.length === 0;
    $('detail-no-tags').hidden = tagKeys.length > 0;

    var payload = data && Object.prototype.hasOwnProperty.call(data, 'payload') ? data.payload : null;
    renderUser(payload && typeof payload === 'object' ? payload.user : null);
    renderBreadcrumbs(payload && typeof payload === 'object' ? payload.breadcrumbs : null);
    renderAttachments(ev);
    $('detail-payload').textContent = payload === null ? '(no payload stored)' : JSON.stringify(payload, null, 2);
  }

  function renderUser(user) {
    var dl = $('detail-user');
    clear(dl);
    var u = user && typeof user === 'object' && !Array.isArray(user) ? user : {};
    ['id', 'email', 'username', 'ip_address', 'name'].forEach(function (k) {
      if (u[k] !== undefined && u[k] !== null && typeof u[k] !== 'object') addSummary(dl, k, str(u[k]), 'wrap');
    });
    $('detail-no-user').hidden = dl.childNodes.length > 0;
  }

  function renderBreadcrumbs(raw) {
    // Sentry sends breadcrumbs as a list or as {values: [...]}.
    var crumbs = Array.isArray(raw) ? raw : (raw && Array.isArray(raw.values) ? raw.values : []);
    var body = $('detail-breadcrumbs').querySelector('tbody');
    clear(body);
    crumbs.slice(-100).forEach(function (b) {
      b = b && typeof b === 'object' ? b : {};
      var tr = el('tr');
      var ts = typeof b.timestamp === 'number' ? b.timestamp * 1000 : Date.parse(str(b.timestamp));
      tr.appendChild(el('td', 'mono', isFinite(ts) ? new Date(ts).toISOString().slice(11, 23) : ''));
      tr.appendChild(el('td', null, str(b.category || b.type)));
      tr.appendChild(el('td', null, str(b.level)));
      var text = b.message !== undefined ? str(b.message) : (b.data ? JSON.stringify(b.data) : '');
      tr.appendChild(el('td', 'wrap', text));
      body.appendChild(tr);
    });
    $('detail-breadcrumbs').hidden = crumbs.length === 0;
    $('detail-no-breadcrumbs').hidden = crumbs.length > 0;
  }

  function renderAttachments(ev) {
    var list = $('detail-attachments');
    clear(list);
    var attachments = Array.isArray(ev.attachments) ? ev.attachments : [];
    attachments.forEach(function (a) {
      var li = el('li');
      var button = el('button', 'secondary', str(a.filename) || 'attachment');
      button.type = 'button';
      button.addEventListener('click', function () { downloadAttachment(ev.event_id, a.seq, str(a.filename)); });
      li.appendChild(button);
      li.appendChild(el('span', 'muted', ' ' + str(a.content_type) + ' · ' + formatBytes(Number(a.size) || 0)));
      list.appendChild(li);
    });
    $('detail-no-attachments').hidden = attachments.length > 0;
  }

  // Attachments need the bearer token, so they are fetched and handed to the browser as a blob.
  function downloadAttachment(eventId, seq, filename) {
    var path = projectPath('/events/' + encodeURIComponent(str(eventId)) + '/attachments/' + encodeURIComponent(String(seq)));
    fetch(path, { headers: { Authorization: 'Bearer ' + state.token } })
      .then(function (res) {
        if (!res.ok) throw new ApiError(res.status, 'download_failed', 'attachment download failed');
        return res.blob();
      })
      .then(function (blob) {
        var a = document.createElement('a');
        a.href = URL.createObjectURL(blob);
        a.download = filename || 'attachment';
        document.body.appendChild(a);
        a.click();
        setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
      })
      .catch(function (err) { setNotice(describeError(err), 'error'); });
  }

  function markSelected() {
    var rows = document.querySelectorAll('#issues tbody tr, #events tbody tr');
    Array.prototype.forEach.call(rows, function (tr) {
      tr.classList.toggle('selected', !!state.selectedEventId && tr.getAttribute('data-event-id') === state.selectedEventId);
    });
  }

  function selectEvent(eventId) {
    if (!eventId) return;
    state.selectedEventId = eventId;
    markSelected();
    var seq = ++state.detailSeq;
    $('detail-placeholder').hidden = false;
    $('detail-placeholder').textContent = 'Loading event ' + eventId + '…';
    $('detail-body').hidden = true;
    api(projectPath('/events/' + encodeURIComponent(eventId))).then(
      function (data) { if (seq === state.detailSeq) renderDetail(data); },
      function (err) {
        if (seq !== state.detailSeq) return;
        $('detail-placeholder').textContent = describeError(err);
        handleAuthError(err);
      }
    );
    if (window.matchMedia('(max-width: 1100px)').matches) {
      $('event-detail').scrollIntoView({ behavior: 'smooth', block: 'start' });
    }
  }

  function closeDetail() {
    state.selectedEventId = null;
    state.detailSeq++;
    markSelected();
    $('detail-body').hidden = true;
    $('detail-close').hidden = true;
    $('detail-placeholder').hidden = false;
    $('detail-placeholder').textContent = 'Select an issue or an event to see its details.';
    $('event-detail').removeAttribute('data-event-id');
  }

  function onRowActivate(e) {
    if (e.type === 'keydown' && e.key !== 'Enter' && e.key !== ' ') return;
    var tr = e.target.closest('tbody tr[data-event-id]');
    if (!tr) return;
    if (e.type === 'keydown') e.preventDefault();
    selectEvent(tr.getAttribute('data-event-id'));
  }

  // ---- refresh loop ----------------------------------------------------------------------------

  function handleAuthError(err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
      showAuthForm(true);
      return true;
    }
    return false;
  }

  function refresh() {
    clearTimeout(state.timer);
    state.timer = null;
    if (!state.token) {
      setNotice('Paste the admin token to read project data.', 'info');
      showAuthForm(true);
      return Promise.resolve();
    }
    if (state.inFlight) return state.inFlight;
    $('refresh-state').textContent = 'refreshing…';
    state.inFlight = Promise.all([
      api(projectPath('/stats')).then(renderStats),
      api(projectPath('/issues')).then(renderIssues),
      loadEvents(),
    ]).then(
      function () {
        state.lastOk = Date.now();
        setNotice(null);
        showAuthForm(false);
      },
      function (err) {
        setNotice(describeError(err), 'error');
        $('notice').setAttribute('data-status', err instanceof ApiError ? String(err.status) : 'network');
        handleAuthError(err);
      }
    ).then(function () {
      state.inFlight = false;
      updateRefreshState();
      schedule();
    });
    return state.inFlight;
  }

  function schedule() {
    clearTimeout(state.timer);
    state.timer = null;
    if (!state.paused && state.token) state.timer = setTimeout(refresh, REFRESH_MS);
  }

  function updateRefreshState() {
    var text = state.paused ? 'auto-refresh paused' : 'auto-refresh every ' + REFRESH_MS / 1000 + ' s';
    if (state.lastOk) text += ' · updated ' + new Date(state.lastOk).toLocaleTimeString([], { hour12: false });
    $('refresh-state').textContent = text;
    var pause = $('pause');
    pause.textContent = state.paused ? 'Resume' : 'Pause';
    pause.setAttribute('aria-pressed', state.paused ? 'true' : 'false');
  }

  // ---- wiring ----------------------------------------------------------------------------------

  function debounce(fn, ms) {
    var t = null;
    return function () {
      clearTimeout(t);
      t = setTimeout(fn, ms);
    };
  }

  function refreshEventsNow() {
    if (!state.token) return;
    loadEvents().catch(function (err) {
      setNotice(describeError(err), 'error');
      handleAuthError(err);
    });
  }

  function init() {
    try { state.project = localStorage.getItem(PROJECT_KEY) || '1'; } catch (_) { state.project = '1'; }
    $('project').value = state.project;
    setToken(readToken());

    $('token-form').addEventListener('submit', function (e) {
      e.preventDefault();
      var value = $('token-input').value.trim();
      if (!value) return;
      $('token-input').value = '';
      setToken(value);
      setNotice(null);
      refresh();
    });

    $('forget-token').addEventListener('click', function () {
      setToken(null);
      clearTimeout(state.timer);
      setNotice('Token forgotten. Paste a token to continue.', 'info');
    });

    function applyProject() {
      var p = $('project').value.trim() || '1';
      if (p === state.project) return;
      state.project = p;
      try { localStorage.setItem(PROJECT_KEY, p); } catch (_) { /* ignore */ }
      closeDetail();
      refresh();
    }
    $('project-form').addEventListener('submit', function (e) { e.preventDefault(); applyProject(); });
    $('project').addEventListener('change', applyProject);

    $('refresh').addEventListener('click', function () { refresh(); });
    $('pause').addEventListener('click', function () {
      state.paused = !state.paused;
      updateRefreshState();
      if (state.paused) clearTimeout(state.timer);
      else refresh();
    });

    $('events-filter').addEventListener('submit', function (e) { e.preventDefault(); refreshEventsNow(); });
    $('search').addEventListener('input', debounce(refreshEventsNow, 250));
    $('range').addEventListener('change', function () {
      var custom = $('range').value === 'custom';
      Array.prototype.forEach.call(document.querySelectorAll('.custom-range'), function (label) {
        label.hidden = !custom;
      });
      refreshEventsNow();
    });
    $('since').addEventListener('change', refreshEventsNow);
    $('until').addEventListener('change', refreshEventsNow);
    $('limit').addEventListener('change', refreshEventsNow);

    ['click', 'keydown'].forEach(function (type) {
      $('issues').addEventListener(type, onRowActivate);
      $('events').addEventListener(type, onRowActivate);
    });
    $('detail-close').addEventListener('click', closeDetail);

    // Timers are throttled in background tabs: catch up as soon as the tab is visible again.
    document.addEventListener('visibilitychange', function () {
      if (!document.hidden && !state.paused) refresh();
    });

    updateRefreshState();
    refresh();
  }

  init();
})();
