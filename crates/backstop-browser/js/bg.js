/* Backstop browser SDK, the part loaded on the first error: backstop_bg.js, fetched by
   backstop.js (prelude.js + epilogue.js) beside itself, with its integrity hash and the page's
   CSP nonce, together with backstop_bg.wasm. It holds wasm-bindgen's glue, the bs_* ports the
   wasm imports (src/host.rs), the options' checks, the wasm's instantiation and what a failure
   of it means, and Backstop.test(). It adds no global: it hands its side to backstop.js through
   its own <script> element (`backstop`, set by backstop.js) and gets backstop.js's in return
   (S: the original fetch and setTimeout, the queue, the session, the stub's own sender). */
(function () {
  'use strict';
  var el = document.currentScript;
  var hand = el && el.backstop;
  if (typeof hand !== 'function') return;

  @@WASM_BINDGEN_GLUE@@

  var regexps = [];
  var beforeSend = null;
  var hint;
  var timer = 0;
  /* Backstop.test(): its event is being captured (bs_before_send tags it). */
  var testing = false;
  /* The options the SDK runs with (those of its last successful init). */
  var cfg = null;
  /* A Rust panic switched the SDK off (see guardTraps). */
  var dead = false;

  /* backstop.js's side (see its `hooks`, same order). */
  var S = hand({ w: wasm_bindgen, init: init, report: report, run: run, test: selfTest });
  var origFetch = S[0];
  var origSetTimeout = S[1];
  var wasmUrl = S[2];
  var soon = S[3];
  var notify = S[4];
  var session = S[5];
  var beacon = S[6];
  var diagnose = S[7];
  var str = S[8];
  var isObj = S[9];
  var isErr = S[10];
  var entry = S[11];
  var endpoint = S[12];
  var stubEvent = S[13];
  var post = S[14];
  var hex32 = S[15];
  var given = S[16];
  var off = S[17];

  /* The value and its `cause` chain (the wasm bounds it too). */
  function chain(v) {
    var out = [entry(v)];
    var seen = [v];
    for (var i = 0; i < @@MAX_CAUSE_DEPTH@@ && isErr(v); i++) {
      var c;
      try { c = v.cause; } catch (e) { break; }
      if (c === undefined || seen.indexOf(c) >= 0) break;
      out.push(entry(c));
      seen.push(c);
      v = c;
    }
    return out.join('\x02');
  }
  /* One capture (backstop.js's report() holds its recursion guard). */
  function report(kind, value, loc, fn, pre) {
    hint = value;
    try { return wasm_bindgen.capture(kind, pre === undefined ? chain(value) : pre, loc || '', fn || ''); }
    finally { hint = undefined; }
  }

  /* Ports called by the wasm (src/host.rs). */
  function bs_now() { return Date.now(); }
  function bs_random() { return Math.random(); }
  function bs_iso() { return new Date().toISOString(); }
  function bs_url() { return location.href; }
  function bs_test(i, text) { try { return !!regexps[i].test(text); } catch (e) { return false; } }
  /* sentry-cli's injected debug ids (stack -> id), for the event's debug_meta. */
  function bs_debug_ids() {
    var m = window._sentryDebugIds, out = '';
    try { for (var k in m) out += k + '\u0001' + m[k] + '\u0002'; } catch (e) { /* none */ }
    return out;
  }
  function bs_before_send(json) {
    if (!beforeSend && !testing) return json;
    try {
      var r = JSON.parse(json);
      /* Backstop.test()'s event: tagged here, the one place the stub sees the wasm's event. */
      if (testing) (r.tags = isObj(r.tags) ? r.tags : {})['backstop.test'] = 'true';
      if (beforeSend) r = beforeSend(r, { originalException: hint });
      if (!isObj(r) || Array.isArray(r) || typeof r.then === 'function') return undefined;
      var out = JSON.stringify(r);
      return out && out.charAt(0) === '{' ? out : undefined;
    } catch (e) { return undefined; }
  }
  /* keepalive (survives the page closing) only within the browser's 64 KiB in-flight quota. */
  var pendingBytes = 0;
  function bs_send(url, body, queued) {
    var keep = pendingBytes + body.length < @@KEEPALIVE_MAX_BYTES@@;
    if (keep) pendingBytes += body.length;
    function done(status, h) {
      if (keep) pendingBytes -= body.length;
      try { wasm_bindgen.settled(body, status, h ? h.get('x-sentry-rate-limits') : undefined, h ? h.get('retry-after') : undefined, queued); } catch (e) { /* idem */ }
    }
    try {
      origFetch.call(window, url, { method: 'POST', body: body, mode: 'cors', keepalive: keep })
        .then(function (r) { done(r.status, r.headers); }, function () { done(0); });
    } catch (e) { Promise.resolve().then(function () { done(0); }); }
  }
  function bs_beacon(url, body) { return beacon(url, body); }
  /* Keys starting with "session:" live in sessionStorage (this tab), the others in localStorage. */
  function storage(key) { return key.indexOf('session:') ? localStorage : sessionStorage; }
  function bs_load(key) { try { return storage(key).getItem(key); } catch (e) { return undefined; } }
  function bs_store(key, value) {
    try { if (value) storage(key).setItem(key, value); else storage(key).removeItem(key); } catch (e) { /* quota, privacy mode */ }
  }
  function bs_timer(ms) {
    clearTimeout(timer);
    timer = origSetTimeout.call(window, function () { timer = 0; soon(function () { wasm_bindgen.drain(); }); }, ms);
  }
  function bs_notify(id, kind, type, message, transport) {
    /* An event sent marks this page load's session: crashed for an uncaught error, rejection
       or panic, errored for a captured exception, a failed request or element (a message:
       neither). */
    session(/^(error|rejection|panic)$/.test(kind) ? 2 : /^(exception|fetch|xhr|resource)$/.test(kind) ? 1 : 0);
    notify(id, kind, type === undefined ? null : type, message, transport);
  }

  /* Backstop.init's options read into the wasm's arguments; true once the wasm took them
     (a refusal is printed on the console, never thrown). */
  function num(v) { return typeof v === 'number' ? v : v == null ? undefined : NaN; }
  function list(v) {
    if (!Array.isArray(v)) return '';
    return v.map(function (p) {
      if (typeof p === 'string') return p;
      if (isObj(p) && typeof p.test === 'function') return '\x02' + (regexps.push(p) - 1);
      return '';
    }).join('\x01');
  }
  function init(o) {
    try {
      if (!isObj(o) || Array.isArray(o)) throw new Error('Backstop.init: invalid options: expected an object');
      if (o.beforeSend != null && typeof o.beforeSend !== 'function') throw new Error('Backstop.init: invalid options: beforeSend must be a function');
      var codes = o.failedRequestStatusCodes;
      regexps = [];
      wasm_bindgen.init(o.dsn == null ? '' : str(o.dsn), str(o.release || ''), str(o.environment || ''),
        num(o.maxEvents), num(o.maxBreadcrumbs), num(o.sampleRate), num(o.fetchStatusMin),
        codes == null ? undefined : Array.isArray(codes) ? codes.map(function (c) { return Array.isArray(c) ? c[0] + '-' + c[1] : str(c); }).join(',') : '!',
        o.offline !== false, list(o.ignoreErrors), list(o.denyUrls), list(o.allowUrls), navigator.userAgent);
      cfg = o;
      beforeSend = o.beforeSend || null;
      return true;
    } catch (e) {
      console.error('[backstop] ' + ((e && e.message) || e));
      return false;
    }
  }

  /* A Rust panic in the SDK (panic=abort) traps the wasm call: the panic handler has printed
     it once; the SDK then switches itself off, so it never re-enters a module whose state the
     panic left half-updated. Other errors pass through unchanged. */
  function guardTraps() {
    Object.keys(wasm_bindgen).forEach(function (k) {
      var f = wasm_bindgen[k];
      if (typeof f !== 'function' || k === 'initSync') return;
      wasm_bindgen[k] = function () {
        if (dead) return undefined;
        try { return f.apply(this, arguments); } catch (e) {
          if (!(e instanceof WebAssembly.RuntimeError)) throw e;
          dead = true;
          off();
          console.error('[backstop] SDK disabled after an internal error: ' + e.message);
          return undefined;
        }
      };
    });
  }

  /* Instantiates the wasm from `p`, backstop.js's fetch of it (streaming compilation where the
     browser has it, see the glue's __wbg_load). Rejects with an Error saying why, in words a
     person can act on: fetch() says only "Failed to fetch" for a network error, CORS, a CSP
     block and an integrity mismatch alike, which backstop.js's diagnose() tells apart. */
  function run(p) {
    return p.then(function (r) {
      if (!r.ok) throw new Error('HTTP ' + r.status + ' for ' + wasmUrl);
      return wasm_bindgen({ module_or_path: r });
    }).then(guardTraps, function (e) {
      var msg = str((e && e.message) || e);
      return (e instanceof TypeError ? diagnose(wasmUrl, msg).then(function (why) {
        return /^blocked/.test(why) ? why + ': allow the collector\'s origin in connect-src (and \'wasm-unsafe-eval\' in script-src)' : why;
      }) : Promise.resolve(
        /unsafe-eval/.test(msg) ? 'the page\'s Content-Security-Policy does not allow WebAssembly: add \'wasm-unsafe-eval\' to script-src (' + msg + ')'
          : e instanceof WebAssembly.CompileError || e instanceof WebAssembly.LinkError ? 'invalid wasm (' + msg + ')' : msg
      )).then(function (why) { throw new Error(why); });
    });
  }

  /* Backstop.test({ timeoutMs }): a test event ("Backstop test event", tag backstop.test=true)
     sent the way an error goes (through the wasm; by the stub's own sender if it cannot load:
     `p` is backstop.js's load of it), then the collector's receipt endpoint polled until the
     event is stored. Resolves { received: true, event_id, round_trip_ms, via: 'wasm' | 'stub' };
     rejects with an Error saying why (refused key, not received in time, dropped by the page's
     own options) after at most timeoutMs (10 s). Calls after the first number their message,
     as the SDK drops an event identical to the one before. */
  var tests = 0;
  function selfTest(opts, p) {
    var timeout = isObj(opts) && opts.timeoutMs > 0 ? +opts.timeoutMs : 10000;
    var end = Date.now() + timeout;
    var message = 'Backstop test event' + (tests++ ? ' (' + tests + ')' : '');
    var via = 'wasm';
    var id, dsn, t0;
    return p.then(function () {
      if (!cfg || dead) throw new Error('the SDK is not running: no valid DSN or options (see the console)');
      dsn = cfg.dsn;
      t0 = Date.now();
      testing = true;
      try { id = wasm_bindgen.capture_message(message, 'info'); } finally { testing = false; }
      if (!id) throw new Error('the SDK dropped the test event (sampleRate, beforeSend, ignoreErrors, maxEvents or a rate limit)');
    }, function () {
      /* The wasm did not load (reported as such by backstop.js): the stub sends it. */
      var o = given();
      dsn = isObj(o) && o.dsn;
      var url = endpoint(dsn);
      if (!url) throw new Error('no valid DSN (data-dsn or Backstop.init({ dsn }))');
      via = 'stub';
      id = hex32();
      t0 = Date.now();
      var event = stubEvent(id, 'info', message, o);
      event.tags = { 'backstop.test': 'true' };
      post(url, id, 'event', event, 0);
    }).then(function () {
      var url = endpoint(dsn, 'receipt/' + id);
      var last = 'no answer yet';
      return new Promise(function (resolve, reject) {
        function ask() {
          if (Date.now() > end) return reject(new Error('test event ' + id + ' not received within ' + timeout + ' ms (last: ' + last + ')'));
          origFetch.call(window, url, { mode: 'cors', credentials: 'omit', cache: 'no-store' }).then(function (r) {
            return r.json().then(function (b) {
              b = isObj(b) ? b : {};
              if (r.ok && b.received) {
                var ms = Date.now() - t0;
                console.log('Backstop: test event received \u2713 (' + ms + ' ms)');
                return resolve({ received: true, event_id: id, round_trip_ms: ms, via: via });
              }
              last = 'HTTP ' + r.status + ' ' + b.error + ': ' + b.detail;
              /* Not stored yet (or a collector without the receipt endpoint), or a storage
                 outage: ask again; any other answer is final. */
              if ((r.status === 404 && b.error === 'not_found') || r.status >= 500) retry();
              else reject(new Error('the collector refused: ' + last));
            }, function () { last = 'HTTP ' + r.status + ', not a Backstop answer'; retry(); });
          }, function (e) { last = 'could not reach ' + url.split('?')[0] + ': ' + str(e && e.message); retry(); });
        }
        function retry() { origSetTimeout.call(window, ask, 250); }
        ask();
      });
    });
  }
})();
