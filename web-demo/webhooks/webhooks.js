// Backstop webhooks page: guarded routes, held deliveries (size vs limit, origin answer, sender,
// attempts) with a Replay button, and one delivery's attempts, alerts and headers.
// Everything a sender sent (paths, headers, sender hints, origin answers) is attacker input: it
// only reaches the page through textContent / setAttribute, never innerHTML.
'use strict';

(function () {
  var REFRESH_MS = 2000;
  var STATUS_LABELS = {
    held: 'Held',
    failed: 'Retrying',
    delivered: 'Delivered',
    exhausted: 'Exhausted',
    refused: 'Refused',
  };

  var $ = function (id) { return document.getElementById(id); };
  var state = { token: null, routes: {}, selected: null, timer: null, inFlight: false, seq: 0 };

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function str(v) { return v === undefined || v === null ? '' : String(v); }
  function labelled(td, label) { td.setAttribute('data-label', label); return td; }

  function bytes(n) {
    if (n === null || n === undefined || n === '') return 'unknown';
    var v = Number(n);
    if (!isFinite(v)) return 'unknown';
    var MIB = 1024 * 1024;
    if (v >= MIB) return (v / MIB).toFixed(1) + ' MiB';
    if (v >= 1024) return (v / 1024).toFixed(1) + ' KiB';
    return v + ' B';
  }
  function time(ms) {
    var n = Number(ms);
    if (!isFinite(n) || n <= 0) return '';
    return new Date(n).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  }
  function ago(ms) {
    var n = Number(ms);
    if (!isFinite(n) || n <= 0) return '';
    var s = Math.round((n - Date.now()) / 1000);
    if (s > 0) return 'in ' + (s < 90 ? s + ' s' : Math.round(s / 60) + ' min');
    return '';
  }

  // ---- token -------------------------------------------------------------------------------------

  function readToken() {
    return window.BackstopAdminToken.read(function (params) {
      var delivery = params.get('delivery');
      if (delivery) state.selected = delivery;
    });
  }

  function setToken(token) {
    state.token = token || null;
    window.BackstopAdminToken.save(state.token);
    $('forget-token').hidden = !state.token;
    $('auth').hidden = !!state.token;
  }

  function setNotice(text, kind) {
    var n = $('notice');
    n.hidden = !text;
    n.className = 'notice notice-' + (kind || 'error');
    n.textContent = text || '';
  }

  // ---- API ---------------------------------------------------------------------------------------

  function api(path, method) {
    var headers = { Accept: 'application/json' };
    if (state.token) headers.Authorization = 'Bearer ' + state.token;
    return fetch(path, { method: method || 'GET', headers: headers, cache: 'no-store' }).then(function (res) {
      return res.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (_) { body = null; }
        if (!res.ok) {
          var err = new Error('HTTP ' + res.status + (body && body.error ? ' ' + str(body.error) : '')
            + (body && body.detail ? ': ' + str(body.detail) : ''));
          err.status = res.status;
          throw err;
        }
        return body || {};
      });
    });
  }

  // ---- routes ------------------------------------------------------------------------------------

  function renderRoutes(data, stats) {
    var routes = Array.isArray(data.routes) ? data.routes : [];
    state.routes = {};
    var body = $('routes').querySelector('tbody');
    clear(body);
    var totals = (stats && stats.routes) || {};
    routes.forEach(function (r) {
      state.routes[str(r.name)] = r;
      var tr = el('tr');
      tr.appendChild(labelled(el('td', 'mono', r.name), 'Route'));
      tr.appendChild(labelled(el('td', 'mono', r.prefix), 'Prefix'));
      tr.appendChild(labelled(el('td', 'mono wrap', r.origin), 'Origin'));
      tr.appendChild(labelled(el('td', 'num', r.body_limit ? bytes(r.body_limit) : 'unknown'), 'Origin limit'));
      tr.appendChild(labelled(el('td', 'num', (Number(r.timeout_ms) / 1000) + ' s'), 'Timeout'));
      var answer = String(r.hold_status) + (r.retry_after_secs ? ' + Retry-After ' + r.retry_after_secs + ' s' : '')
        + (r.backstop_retries ? ' (Backstop retries)' : ' (sender retries)');
      tr.appendChild(labelled(el('td', null, answer), 'While held'));
      var t = totals[r.name] || {};
      var held = 0;
      Object.keys(t).forEach(function (k) { if (k.indexOf('webhook_held_') === 0) held += Number(t[k]) || 0; });
      tr.appendChild(labelled(el('td', null, held + ' / ' + (Number(t.webhook_passed) || 0)), 'Held / passed'));
      body.appendChild(tr);
    });
    $('routes').querySelector('.empty').hidden = routes.length > 0;
    var alerts = data.alerts || {};
    $('alerts-state').textContent = alerts.configured
      ? 'alerts on (first hold per route every ' + Math.round(Number(alerts.window_secs) / 60) + ' min, and exhaustion)'
      : 'alerts are recorded but not sent (BACKSTOP_ALERT_WEBHOOK_URL is not set)';
  }

  // ---- deliveries --------------------------------------------------------------------------------

  function limitOf(d) {
    if (d.limit_bytes !== null && d.limit_bytes !== undefined) return d.limit_bytes;
    var r = state.routes[str(d.route)];
    return r ? r.body_limit : null;
  }

  function originAnswer(d) {
    var parts = [];
    if (d.origin_status) parts.push(String(d.origin_status));
    if (d.origin_error) parts.push(str(d.origin_error));
    if (!parts.length && d.reason === 'oversize') parts.push('not sent: over the limit');
    return parts.join(' · ');
  }

  function statusCell(d) {
    var td = el('td');
    var badge = el('span', 'badge wh-status wh-' + str(d.status), STATUS_LABELS[d.status] || str(d.status));
    td.appendChild(badge);
    if (d.reason) td.appendChild(el('span', 'muted wh-reason', ' ' + str(d.reason).replace(/_/g, ' ')));
    if (d.status === 'failed' && d.next_attempt_at) td.appendChild(el('span', 'muted wh-reason', ' · next ' + ago(d.next_attempt_at)));
    return td;
  }

  function replayButton(d) {
    var b = el('button', 'secondary', d.status === 'delivered' ? 'Delivered' : 'Replay');
    b.type = 'button';
    b.disabled = !d.payload_kept || d.status === 'delivered';
    b.setAttribute('data-action', 'replay');
    b.addEventListener('click', function (ev) {
      ev.stopPropagation();
      replay(str(d.id), false, b);
    });
    return b;
  }

  function renderDeliveries(list) {
    var body = $('deliveries').querySelector('tbody');
    clear(body);
    list.forEach(function (d) {
      var tr = el('tr', 'clickable');
      tr.setAttribute('data-delivery-id', str(d.id));
      tr.tabIndex = 0;
      if (state.selected === d.id) tr.classList.add('selected');
      tr.appendChild(labelled(el('td', 'nowrap', time(d.received_at)), 'Received'));
      tr.appendChild(labelled(el('td', 'mono', d.route), 'Route'));
      var sender = el('td', 'wrap');
      sender.appendChild(el('div', null, d.sender || '—'));
      sender.appendChild(el('div', 'muted mono', str(d.method) + ' ' + str(d.path)));
      tr.appendChild(labelled(sender, 'Sender'));
      var size = el('td', 'num nowrap', bytes(d.size) + ' / ' + bytes(limitOf(d)));
      if (d.size && limitOf(d) && Number(d.size) > Number(limitOf(d))) size.classList.add('wh-over');
      tr.appendChild(labelled(size, 'Size / limit'));
      tr.appendChild(labelled(statusCell(d), 'Status'));
      tr.appendChild(labelled(el('td', 'wrap', originAnswer(d)), 'Origin answer'));
      tr.appendChild(labelled(el('td', 'num', (Number(d.attempts) || 0) + (d.replays ? ' + ' + d.replays + ' replay' + (d.replays > 1 ? 's' : '') : '')), 'Attempts'));
      var action = el('td');
      action.appendChild(replayButton(d));
      tr.appendChild(labelled(action, 'Action'));
      tr.addEventListener('click', function () { select(str(d.id)); });
      tr.addEventListener('keydown', function (ev) { if (ev.key === 'Enter') select(str(d.id)); });
      body.appendChild(tr);
    });
    $('deliveries').querySelector('.empty').hidden = list.length > 0;
    $('deliveries-count').textContent = list.length + (list.length === 1 ? ' delivery' : ' deliveries');
  }

  function deliveriesPath() {
    var params = new URLSearchParams();
    var status = $('status').value;
    if (status) params.set('status', status);
    var q = $('search').value.trim();
    if (q) params.set('query', q);
    params.set('limit', '200');
    return '/api/webhooks/deliveries?' + params.toString();
  }

  // ---- detail ------------------------------------------------------------------------------------

  function summaryRow(dl, term, value) {
    dl.appendChild(el('dt', null, term));
    dl.appendChild(el('dd', 'wrap', value));
  }

  function renderDetail(data) {
    var d = data.delivery || {};
    $('detail-placeholder').hidden = true;
    $('detail-body').hidden = false;
    $('detail-close').hidden = false;
    var dl = $('detail-summary');
    clear(dl);
    summaryRow(dl, 'Delivery', str(d.id));
    summaryRow(dl, 'Route', str(d.route));
    summaryRow(dl, 'Request', str(d.method) + ' ' + str(d.path));
    summaryRow(dl, 'Received', time(d.received_at));
    summaryRow(dl, 'Sender', d.sender || '—');
    summaryRow(dl, 'Content type', str(d.content_type));
    summaryRow(dl, 'Size / limit', bytes(d.size) + ' / ' + bytes(limitOf(d)));
    summaryRow(dl, 'Status', (STATUS_LABELS[d.status] || str(d.status)) + (d.reason ? ' (' + str(d.reason).replace(/_/g, ' ') + ')' : ''));
    summaryRow(dl, 'Origin answer', originAnswer(d) || '—');
    if (d.next_attempt_at) summaryRow(dl, 'Next retry', time(d.next_attempt_at) + ' ' + ago(d.next_attempt_at));
    if (d.delivered_at) summaryRow(dl, 'Delivered', time(d.delivered_at));
    summaryRow(dl, 'Payload', d.payload_kept ? 'kept' : 'not kept');
    $('detail-replay').disabled = !d.payload_kept;
    $('detail-download').disabled = !d.payload_kept;

    var at = $('detail-attempts').querySelector('tbody');
    clear(at);
    (Array.isArray(data.attempts) ? data.attempts : []).forEach(function (a) {
      var tr = el('tr');
      tr.appendChild(el('td', 'num', a.n));
      tr.appendChild(el('td', null, a.kind));
      tr.appendChild(el('td', 'nowrap', time(a.at)));
      tr.appendChild(el('td', 'num', a.origin_status || '—'));
      tr.appendChild(el('td', 'wrap', a.error));
      tr.appendChild(el('td', 'num', a.duration_ms));
      at.appendChild(tr);
    });
    var alerts = Array.isArray(data.alerts) ? data.alerts : [];
    var ab = $('detail-alerts').querySelector('tbody');
    clear(ab);
    alerts.forEach(function (a) {
      var tr = el('tr');
      tr.appendChild(el('td', null, str(a.kind).replace(/_/g, ' ')));
      tr.appendChild(el('td', null, a.status));
      tr.appendChild(el('td', 'nowrap', time(a.created_at)));
      tr.appendChild(el('td', 'wrap', a.error || (a.sink_status ? 'sink answered ' + a.sink_status : '')));
      ab.appendChild(tr);
    });
    $('detail-no-alerts').hidden = alerts.length > 0;
    var hb = $('detail-headers').querySelector('tbody');
    clear(hb);
    (Array.isArray(data.headers) ? data.headers : []).forEach(function (h) {
      var tr = el('tr');
      tr.appendChild(el('th', 'mono', h && h[0]));
      tr.appendChild(el('td', 'mono wrap', h && h[1]));
      hb.appendChild(tr);
    });
  }

  function select(id) {
    state.selected = id;
    history.replaceState(null, '', location.pathname + location.search + '#delivery=' + encodeURIComponent(id));
    Array.prototype.forEach.call($('deliveries').querySelectorAll('tr[data-delivery-id]'), function (tr) {
      tr.classList.toggle('selected', tr.getAttribute('data-delivery-id') === id);
    });
    return loadDetail();
  }

  function loadDetail() {
    if (!state.selected || !state.token) return Promise.resolve();
    var id = state.selected;
    return api('/api/webhooks/deliveries/' + encodeURIComponent(id)).then(function (data) {
      if (state.selected === id) renderDetail(data);
    }).catch(function (err) {
      if (err.status === 404) {
        state.selected = null;
        $('detail-body').hidden = true;
        $('detail-placeholder').hidden = false;
      }
    });
  }

  function replay(id, force, button) {
    if (button) button.disabled = true;
    setNotice('Replaying ' + id + '…', 'info');
    return api('/api/webhooks/deliveries/' + encodeURIComponent(id) + '/replay' + (force ? '?force=1' : ''), 'POST')
      .then(function (r) {
        var what = {
          delivered: 'Delivered: the origin accepted ' + id + '.',
          already_delivered: id + ' was already delivered; nothing was sent (tick "force" to re-send).',
          not_delivered: 'Not delivered: the origin answered ' + (r.origin_status || str(r.error) || 'nothing') + '. The payload is still kept.',
        }[r.result] || str(r.result);
        setNotice(what, r.result === 'not_delivered' ? 'error' : 'info');
      })
      .catch(function (err) { setNotice('Replay failed: ' + err.message); })
      .then(function () { state.selected = state.selected || id; return refresh(); });
  }

  // ---- refresh -----------------------------------------------------------------------------------

  function refresh() {
    if (!state.token) { setToken(null); return Promise.resolve(); }
    if (state.inFlight) return Promise.resolve();
    state.inFlight = true;
    var seq = ++state.seq;
    return Promise.all([api('/api/webhooks/routes'), api('/api/webhooks/stats').catch(function () { return {}; }), api(deliveriesPath())])
      .then(function (res) {
        if (seq !== state.seq) return;
        renderRoutes(res[0], res[1]);
        renderDeliveries(Array.isArray(res[2].deliveries) ? res[2].deliveries : []);
        $('refresh-state').textContent = 'updated ' + new Date().toLocaleTimeString();
        if ($('notice').className.indexOf('notice-error') >= 0 && /^HTTP|Cannot/.test($('notice').textContent)) setNotice('');
        return loadDetail();
      })
      .catch(function (err) {
        if (err.status === 401 || err.status === 403) setToken(null);
        setNotice(err.status ? err.message : 'Cannot reach the Backstop API: ' + str(err.message));
      })
      .then(function () { state.inFlight = false; });
  }

  function schedule() {
    clearTimeout(state.timer);
    state.timer = setTimeout(function () { refresh().then(schedule); }, REFRESH_MS);
  }

  function download() {
    var id = state.selected;
    if (!id) return;
    fetch('/api/webhooks/deliveries/' + encodeURIComponent(id) + '/payload', { headers: { Authorization: 'Bearer ' + state.token } })
      .then(function (res) {
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.blob();
      })
      .then(function (blob) {
        var a = document.createElement('a');
        a.href = URL.createObjectURL(blob);
        a.download = id + '.bin';
        document.body.appendChild(a);
        a.click();
        setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
      })
      .catch(function (err) { setNotice('Download failed: ' + err.message); });
  }

  document.addEventListener('DOMContentLoaded', function () {
    setToken(readToken());
    $('token-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      setToken($('token-input').value.trim());
      $('token-input').value = '';
      refresh();
    });
    $('forget-token').addEventListener('click', function () { setToken(null); });
    $('refresh').addEventListener('click', function () { refresh(); });
    $('status').addEventListener('change', function () { refresh(); });
    var debounce = null;
    $('search').addEventListener('input', function () {
      clearTimeout(debounce);
      debounce = setTimeout(refresh, 250);
    });
    $('filter').addEventListener('submit', function (ev) { ev.preventDefault(); refresh(); });
    $('detail-close').addEventListener('click', function () {
      state.selected = null;
      $('detail-body').hidden = true;
      $('detail-placeholder').hidden = false;
      $('detail-close').hidden = true;
      history.replaceState(null, '', location.pathname + location.search);
    });
    $('detail-replay').addEventListener('click', function () {
      if (state.selected) replay(state.selected, $('detail-force').checked, $('detail-replay'));
    });
    $('detail-download').addEventListener('click', download);
    refresh().then(schedule);
  });
})();
