// Demo page: buttons that produce each kind of error the SDK captures, and a log of what was sent.
// Everything shown in the log comes from events and responses: it is rendered with textContent only.
'use strict';

(function () {
  var demo = window.backstopDemo || { publicKey: '', projectId: '1', dsn: '', sent: [] };
  var logList = document.getElementById('log');
  var logEmpty = document.getElementById('log-empty');

  document.getElementById('dsn').textContent = demo.dsn;

  // ---- log panel -------------------------------------------------------------------------------

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function timeOf(ms) {
    var d = new Date(ms);
    return d.toLocaleTimeString([], { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0');
  }

  /** Adds one entry at the top of the log. `source` is "sent" (from the SDK) or "page". */
  function addLog(source, at, title, fields) {
    var li = el('li', 'log-entry log-' + source);
    var head = el('div', 'log-head');
    head.appendChild(el('span', 'log-time', timeOf(at)));
    head.appendChild(el('span', 'badge badge-' + source, source === 'sent' ? 'sent' : 'page'));
    head.appendChild(el('span', 'log-title', title));
    li.appendChild(head);
    var dl = el('dl', 'log-fields');
    fields.forEach(function (pair) {
      if (pair[1] === undefined || pair[1] === null || pair[1] === '') return;
      dl.appendChild(el('dt', null, pair[0]));
      dl.appendChild(el('dd', null, pair[1]));
    });
    if (dl.childNodes.length) li.appendChild(dl);
    logList.insertBefore(li, logList.firstChild);
    logEmpty.hidden = true;
  }

  function logSent(entry) {
    var d = entry.detail || {};
    var title = [d.type, d.message].filter(Boolean).join(': ') || '(no message)';
    addLog('sent', entry.at, title, [
      ['kind', d.kind],
      ['event id', d.event_id],
      ['transport', d.transport],
    ]);
  }

  function logPage(title, fields) {
    addLog('page', Date.now(), title, fields || []);
  }

  demo.sent.forEach(logSent);
  demo.onSent = logSent;

  document.getElementById('clear-log').addEventListener('click', function () {
    logList.textContent = '';
    logEmpty.hidden = false;
  });

  // ---- SDK status ------------------------------------------------------------------------------

  var status = document.getElementById('sdk-status');
  function setStatus(text, kind) {
    status.textContent = text;
    status.className = 'badge badge-' + kind;
  }
  if (window.Backstop && window.Backstop.ready && typeof window.Backstop.ready.then === 'function') {
    // The SDK loads its wasm on the first error (this page throws one at load).
    setStatus('listening (the wasm loads on the first error)', 'pending');
    window.Backstop.ready.then(
      function () { setStatus('ready', 'ok'); },
      function (err) { setStatus('failed: ' + String(err && err.message ? err.message : err), 'bad'); }
    );
  } else {
    setStatus('not loaded (is /sdk/backstop.js built?)', 'bad');
  }

  // ---- buttons ---------------------------------------------------------------------------------

  // A small call chain so the stack has several named frames of this file.
  function readDisplayName(profile) {
    return profile.name.first; // profile is null: TypeError
  }
  function renderProfileCard(profile) {
    return '<b>' + readDisplayName(profile) + '</b>';
  }
  function loadUserProfile() {
    var profile = null; // pretend the API returned nothing
    return renderProfileCard(profile);
  }

  document.getElementById('throw').addEventListener('click', function () {
    // From a timer, so nothing catches it: it reaches window.onerror.
    setTimeout(function onProfileTimer() {
      loadUserProfile();
    }, 0);
    logPage('Threw a TypeError from loadUserProfile() in a timer');
  });

  async function submitOrder() {
    await Promise.resolve();
    throw new Error('demo rejection');
  }

  document.getElementById('reject').addEventListener('click', function () {
    submitOrder(); // the returned promise rejects and nobody handles it
    logPage('Left a promise rejection unhandled ("demo rejection")');
  });

  document.getElementById('fetch500').addEventListener('click', function () {
    fetch((demo.collector || '') + '/demo/api/fail').then(
      function (res) { logPage('fetch /demo/api/fail answered', [['status', res.status + ' ' + res.statusText]]); },
      function (err) { logPage('fetch /demo/api/fail failed', [['error', String(err)]]); }
    );
  });

  document.getElementById('fetchDown').addEventListener('click', function () {
    fetch('http://127.0.0.1:9/unreachable').then(
      function (res) { logPage('fetch http://127.0.0.1:9/unreachable answered?!', [['status', res.status]]); },
      function (err) { logPage('fetch http://127.0.0.1:9/unreachable failed (network error)', [['error', String(err)]]); }
    );
  });

  document.getElementById('message-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var text = document.getElementById('message-text').value;
    var level = document.getElementById('message-level').value;
    if (!window.Backstop || typeof window.Backstop.captureMessage !== 'function') {
      logPage('Backstop.captureMessage is not available');
      return;
    }
    window.Backstop.captureMessage(text, level);
    logPage('Called Backstop.captureMessage', [['message', text], ['level', level]]);
  });

  // ---- oversized envelope ----------------------------------------------------------------------

  function randomHex32() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return b.toString(16).padStart(2, '0'); }).join('');
  }

  /** An envelope with one ~1.5 MB event, built by hand: the SDK itself would never send it. */
  function oversizedEnvelope() {
    var payload = JSON.stringify({
      event_id: randomHex32(),
      timestamp: Date.now() / 1000,
      platform: 'javascript',
      level: 'error',
      message: 'oversize demo event',
      environment: 'demo',
      release: 'demo@1',
      extra: { padding: 'x'.repeat(1536 * 1024) },
    });
    var length = new TextEncoder().encode(payload).length;
    return '{}\n' + JSON.stringify({ type: 'event', length: length }) + '\n' + payload + '\n';
  }

  var oversizeButton = document.getElementById('oversize');
  oversizeButton.addEventListener('click', function () {
    var result = document.getElementById('oversize-result');
    var statusEl = document.getElementById('oversize-status');
    var bodyEl = document.getElementById('oversize-body');
    var url = (demo.collector || '') + '/api/' + encodeURIComponent(demo.projectId) + '/envelope/?sentry_key=' +
      encodeURIComponent(demo.publicKey) + '&sentry_version=7';
    var body = oversizedEnvelope();

    oversizeButton.disabled = true;
    result.hidden = false;
    result.removeAttribute('data-status');
    statusEl.textContent = 'sending ' + (body.length / (1024 * 1024)).toFixed(2) + ' MB…';
    bodyEl.textContent = '';

    fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/x-sentry-envelope' }, body: body })
      .then(function (res) {
        return res.text().then(function (text) {
          var shown = text;
          try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (_) { /* not JSON: show as is */ }
          statusEl.textContent = res.status + ' ' + res.statusText;
          bodyEl.textContent = shown;
          result.setAttribute('data-status', String(res.status));
          logPage('Oversized envelope answered', [['status', String(res.status)], ['body', text.slice(0, 300)]]);
        });
      })
      .catch(function (err) {
        statusEl.textContent = 'request failed';
        bodyEl.textContent = String(err);
        result.setAttribute('data-status', 'error');
        logPage('Oversized envelope request failed', [['error', String(err)]]);
      })
      .finally(function () { oversizeButton.disabled = false; });
  });
})();
