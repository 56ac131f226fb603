// Demo page, webhook half: a small webhook passes through the guarded demo route; one over the
// demo origin's upload limit is refused there (413) and held by Backstop with its sender; the
// origin's limit is raised; a replay delivers it once, byte for byte (the origin's SHA-256 of
// what it received equals the page's SHA-256 of what it sent).
//
// Webhooks are sent as a webhook provider sends them, without CORS (the guard and the origin
// answer providers, not browsers), so the outcome is read from what Backstop recorded: the
// deliveries API (with the local dev admin token, which the worker refuses outside local dev).
// Everything shown is set with textContent.
'use strict';

(function () {
  var ADMIN = 'backstop-local-admin-token'; // local dev only (.dev.vars)
  var demo = window.backstopDemo || {};
  var collector = demo.collector || location.origin;
  var $ = function (id) { return document.getElementById(id); };
  var buttons = { small: $('wh-small'), big: $('wh-big'), raise: $('wh-raise'), replay: $('wh-replay') };
  var route = null;
  var held = null; // { id, sha256, size }

  function log(title, fields, link) {
    var li = document.createElement('li');
    li.className = 'log-entry log-page';
    var head = document.createElement('div');
    head.className = 'log-head';
    var t = document.createElement('span');
    t.className = 'log-title';
    t.textContent = title;
    head.appendChild(t);
    li.appendChild(head);
    (fields || []).forEach(function (f) {
      var row = document.createElement('div');
      row.className = 'log-field';
      var k = document.createElement('span');
      k.className = 'muted';
      k.textContent = f[0] + ': ';
      var v = document.createElement('code');
      v.textContent = String(f[1]);
      row.appendChild(k);
      row.appendChild(v);
      li.appendChild(row);
    });
    if (link) {
      var a = document.createElement('a');
      a.href = link.href;
      a.textContent = link.text;
      li.appendChild(a);
    }
    $('wh-log').insertBefore(li, $('wh-log').firstChild);
    return li;
  }

  function api(path, init) {
    init = init || {};
    init.headers = Object.assign({ Authorization: 'Bearer ' + ADMIN }, init.headers || {});
    return fetch(collector + path, init).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(path + ' answered ' + r.status + ': ' + JSON.stringify(body));
        return body;
      });
    });
  }
  function originState() {
    return fetch(route.origin + '/__origin/state').then(function (r) { return r.json(); });
  }
  function showLimit() {
    return originState().then(function (s) {
      $('wh-limit').textContent = (s.limit / 1048576).toFixed(1) + ' MB';
      return s;
    });
  }
  function hex(buf) {
    return Array.prototype.map.call(new Uint8Array(buf), function (b) { return (b < 16 ? '0' : '') + b.toString(16); }).join('');
  }
  function sha256(bytes) {
    return crypto.subtle.digest('SHA-256', bytes).then(hex);
  }

  /* A multipart/form-data body as an email provider's inbound-parse webhook sends it. */
  function webhookBody(from, subject, attachmentBytes) {
    var boundary = 'backstopdemo' + Math.random().toString(16).slice(2);
    var enc = new TextEncoder();
    var parts = [];
    var field = function (name, value) {
      parts.push(enc.encode('--' + boundary + '\r\nContent-Disposition: form-data; name="' + name + '"\r\n\r\n' + value + '\r\n'));
    };
    field('from', from);
    field('subject', subject);
    field('text', 'Hello from the Backstop demo page.');
    if (attachmentBytes) {
      parts.push(enc.encode('--' + boundary + '\r\nContent-Disposition: form-data; name="attachment1"; filename="report.pdf"\r\nContent-Type: application/pdf\r\n\r\n'));
      var file = new Uint8Array(attachmentBytes);
      for (var i = 0; i < file.length; i++) file[i] = (i * 31 + 7) & 0xff;
      parts.push(file);
      parts.push(enc.encode('\r\n'));
    }
    parts.push(enc.encode('--' + boundary + '--\r\n'));
    var size = parts.reduce(function (n, p) { return n + p.length; }, 0);
    var body = new Uint8Array(size);
    var at = 0;
    parts.forEach(function (p) { body.set(p, at); at += p.length; });
    return { body: body, type: 'multipart/form-data; boundary=' + boundary };
  }

  /* Sends like a provider (no CORS) and waits until the deliveries API shows the delivery. */
  function send(key, label, from, attachmentBytes) {
    var nonce = Math.random().toString(16).slice(2, 10);
    var path = route.prefix + 'inbound/' + nonce;
    var wh = webhookBody(from, label, attachmentBytes);
    return sha256(wh.body).then(function (digest) {
      var entry = log(label + ': sending ' + wh.body.length + ' bytes to ' + path, [['sha256', digest]]);
      return fetch(collector + path, { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': wh.type }, body: wh.body })
        .catch(function (e) { return { error: String(e) }; })
        .then(function () { return waitForDelivery(nonce, 40); })
        .then(function (d) {
          entry.setAttribute('data-delivery-status', d.status);
          var fields = [['delivery', d.id], ['status', d.status], ['size', d.size + ' bytes']];
          if (d.reason) fields.push(['reason', d.reason]);
          if (d.origin_status) fields.push(['origin answered', d.origin_status]);
          if (d.sender) fields.push(['sender', d.sender]);
          var li = log(label + ': ' + (d.status === 'delivered' ? 'passed through to the origin' : d.status === 'held' || d.status === 'failed' ? 'held by Backstop (not lost)' : d.status),
            fields, d.status === 'delivered' ? null : { href: collector + '/webhooks/#token=' + encodeURIComponent(ADMIN), text: 'See it on the webhooks dashboard →' });
          li.setAttribute('data-delivery-status', d.status);
          li.id = 'wh-result-' + key;
          return { delivery: d, sha256: digest, size: wh.body.length };
        });
    });
  }

  function waitForDelivery(nonce, tries) {
    return api('/api/webhooks/deliveries?limit=20&query=' + encodeURIComponent(nonce)).then(function (r) {
      var d = (r.deliveries || [])[0];
      if (d && d.status !== 'receiving') return d;
      if (tries <= 0) throw new Error('no delivery recorded for ' + nonce);
      return new Promise(function (res) { setTimeout(res, 250); }).then(function () { return waitForDelivery(nonce, tries - 1); });
    });
  }

  function guard(button, f) {
    button.addEventListener('click', function () {
      button.disabled = true;
      f().catch(function (e) { log('Failed: ' + (e && e.message ? e.message : e)); }).then(function () { button.disabled = false; });
    });
  }

  guard(buttons.small, function () { return send('small', 'small webhook', 'alice@example.com', 1700); });
  guard(buttons.big, function () {
    return send('big', 'large webhook', 'bob@example.com', 3 * 1024 * 1024).then(function (r) {
      held = { id: r.delivery.id, sha256: r.sha256, size: r.size };
      buttons.replay.disabled = false;
    });
  });
  guard(buttons.raise, function () {
    return fetch(route.origin + '/__origin/limit?bytes=' + 10 * 1024 * 1024, { method: 'POST' })
      .then(function (r) { return r.json(); })
      .then(function () { return showLimit(); })
      .then(function (s) { log('origin limit raised', [['limit', s.limit + ' bytes']]); });
  });
  guard(buttons.replay, function () {
    if (!held) return Promise.reject(new Error('send a webhook over the limit first'));
    return api('/api/webhooks/deliveries/' + encodeURIComponent(held.id) + '/replay', { method: 'POST' }).then(function (r) {
      return originState().then(function (s) {
        var copies = s.received.filter(function (x) { return x.sha256 === held.sha256; });
        var same = copies.length === 1 && copies[0].size === held.size;
        var li = log('replay: ' + r.result, [
          ['origin answered', r.origin_status == null ? '-' : r.origin_status],
          ['copies received by the origin', copies.length],
          ['byte-identical', same ? 'yes (sha256 ' + held.sha256 + ')' : 'no'],
        ]);
        li.id = 'wh-result-replay';
        li.setAttribute('data-result', r.result);
        li.setAttribute('data-identical', same ? 'yes' : 'no');
      });
    });
  });

  api('/api/webhooks/routes').then(function (r) {
    route = (r.routes || []).filter(function (x) { return x.name === 'demo'; })[0] || null;
    if (!route) throw new Error('no guarded route named "demo" (start the demo with cargo xtask demo)');
    $('wh-route').textContent = route.prefix;
    $('wh-origin').textContent = route.origin;
    return showLimit().then(function () {
      buttons.small.disabled = false;
      buttons.big.disabled = false;
      buttons.raise.disabled = false;
      $('webhook-panel').setAttribute('data-ready', 'yes');
    });
  }).catch(function (e) {
    var p = $('wh-unavailable');
    p.hidden = false;
    p.textContent = 'Webhook demo unavailable: ' + (e && e.message ? e.message : e);
  });
})();
