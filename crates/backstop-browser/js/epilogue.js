  /* Backstop epilogue: read the options into the wasm's arguments, load the wasm beside this
     script when there is something to report (see prelude.js), then run what waited. Never
     throws into the page. */
  function num(v) { return typeof v === 'number' ? v : v == null ? undefined : NaN; }
  function list(v) {
    if (!Array.isArray(v)) return '';
    return v.map(function (p) {
      if (typeof p === 'string') return p;
      if (isObj(p) && typeof p.test === 'function') return '\x02' + (regexps.push(p) - 1);
      return '';
    }).join('\x01');
  }

  /* The options the SDK runs with (those of its last successful init). */
  var cfg = null;
  function start(o) {
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
      if (o.wrapCallbacks === false) wrapOn = false;
    } catch (e) {
      console.error('[backstop] ' + ((e && e.message) || e));
      return;
    }
    if (started) return;
    started = true;
    var pending = queue;
    queue = [];
    crumbs = 0;
    pending.forEach(function (c) { soon(c.f); });
    resolveReady();
  }

  /* A Rust panic in the SDK (panic=abort) traps the wasm call: console_error_panic_hook has
     printed the panic once; the SDK then switches itself off, so it never re-enters a module
     whose state the panic left half-updated. Other errors pass through unchanged. */
  function guardTraps() {
    var dead = false;
    Object.keys(wasm_bindgen).forEach(function (k) {
      var f = wasm_bindgen[k];
      if (typeof f !== 'function' || k === 'initSync') return;
      wasm_bindgen[k] = function () {
        if (dead) return undefined;
        try { return f.apply(this, arguments); } catch (e) {
          if (!(e instanceof WebAssembly.RuntimeError)) throw e;
          dead = true;
          started = false;
          queue = [];
          console.error('[backstop] SDK disabled after an internal error: ' + e.message);
          return undefined;
        }
      };
    });
  }

  var wasmUrl = /backstop\.js([?#]|$)/.test(src)
    ? src.replace(/backstop\.js([?#]|$)/, 'backstop_bg.wasm$1')
    : src.replace(/\.js([?#]|$)/, '_bg.wasm$1');

  /* Loads the wasm (once it succeeds), then starts with the options given so far. A failed
     load does not switch the SDK off: the failure is reported without the wasm (below), what
     was captured keeps waiting, and the next thing to report retries after a backoff (5 s,
     doubling, at most 5 min). `now` (Backstop.load) skips the backoff. Returns a promise of
     this attempt. */
  var attempt = null;
  var attempts = 0;
  var retryAt = 0;
  var lastWhy = '';
  function load(now) {
    if (loaded) return Promise.resolve();
    if (attempt) return attempt;
    if (!now && attempts && Date.now() < retryAt) return ready;
    attempts++;
    var init = { mode: 'cors', credentials: 'omit' };
    if (WASM_INTEGRITY.indexOf('sha') === 0) init.integrity = WASM_INTEGRITY;
    attempt = new Promise(function (resolve) {
      /* The original fetch: loading the SDK itself is no breadcrumb. */
      resolve(origFetch.call(window, wasmUrl, init));
    }).then(function (r) {
      if (!r.ok) throw new Error('HTTP ' + r.status + ' for ' + wasmUrl);
      return wasm_bindgen({ module_or_path: r });
    }).then(function () {
      guardTraps();
      loaded = true;
      attempt = null;
      lost = [];
      lostDropped = 0;
      /* Backstop.init's options replace the data attributes' (both were given before the
         load: what waited must run with the page's own options). */
      if (options) start(options);
      else if (data.dsn) start({ dsn: data.dsn, release: data.release, environment: data.environment });
      options = null;
    }, function (e) {
      return loadFailure(e).then(function (why) {
        attempt = null;
        lastWhy = why;
        retryAt = Date.now() + Math.min(5000 * Math.pow(2, attempts - 1), @@MAX_BACKOFF_MS@@);
        console.warn('[backstop] SDK could not load ' + wasmUrl + ': ' + why + '. Reported to the collector; retried on the next error.');
        sendLoadFailure(why, false);
        var err = new Error(why);
        rejectReady(err);
        throw err;
      });
    });
    attempt.catch(function () { /* Backstop.load() callers may ignore it */ });
    return attempt;
  }

  /* Why the wasm did not load, in words a person can act on. fetch() says only "Failed to
     fetch" for a network error, CORS, a CSP block and an integrity mismatch alike; a CSP block
     also fires securitypolicyviolation, and an offline browser says so. */
  var cspBlocked = '';
  document.addEventListener('securitypolicyviolation', function (e) {
    try { if (String(e.blockedURI).indexOf(wasmUrl.split(/[?#]/)[0]) === 0) cspBlocked = str(e.violatedDirective); } catch (x) { /* idem */ }
  });
  function loadFailure(e) {
    var msg = str((e && e.message) || e);
    if (!(e instanceof TypeError)) {
      if (/unsafe-eval/.test(msg)) return Promise.resolve('the page\'s Content-Security-Policy does not allow WebAssembly: add \'wasm-unsafe-eval\' to script-src (' + msg + ')');
      if (e instanceof WebAssembly.CompileError || e instanceof WebAssembly.LinkError) return Promise.resolve('invalid wasm (' + msg + ')');
      return Promise.resolve(msg);
    }
    /* A second look without the integrity check tells a mismatch (it loads) from a status
       (it answers) from a block or an outage (it fails too). */
    return new Promise(function (resolve) { resolve(origFetch.call(window, wasmUrl, { method: 'HEAD', mode: 'cors', credentials: 'omit', cache: 'no-store' })); })
      .then(function (r) {
        return r.ok
          ? 'integrity mismatch: the wasm served at this URL is not the one backstop.js was built with (' + msg + ')'
          : 'HTTP ' + r.status + ' for ' + wasmUrl;
      }, function () {
        if (cspBlocked) return 'blocked by the page\'s Content-Security-Policy (' + cspBlocked + '; allow the collector\'s origin and \'wasm-unsafe-eval\')';
        if (navigator.onLine === false) return 'offline (' + msg + ')';
        return 'fetch failed: network error, blocked request or CORS (' + msg + ')';
      });
  }

  /* An endpoint of a DSN's project (`what`: the default `envelope/`, or `receipt/<id>`), parsed
     here because the wasm's parser may be what failed to arrive; null when the DSN does not
     parse (the wasm would refuse it too). */
  function endpoint(dsn, what) {
    try {
      var u = new URL(str(dsn));
      var path = u.pathname.replace(/\/+$/, '');
      var cut = path.lastIndexOf('/');
      var project = path.slice(cut + 1);
      if (!u.username || !/^\d+$/.test(project) || !/^https?:$/.test(u.protocol)) return null;
      return u.protocol + '//' + u.host + path.slice(0, cut) + '/api/' + project + '/' + (what || 'envelope/') + '?sentry_version=7&sentry_key=' +
        encodeURIComponent(decodeURIComponent(u.username)) + '&sentry_client=backstop.browser.stub%2F' + VERSION;
    } catch (e) { return null; }
  }
  function hex32() {
    var s = '';
    for (var i = 0; i < 32; i++) s += Math.floor(Math.random() * 16).toString(16);
    return s;
  }

  /* An event of the stub's own (no wasm), for `o`'s release and environment. */
  function stubEvent(id, level, message, o) {
    var event = {
      event_id: id,
      timestamp: Date.now() / 1000,
      platform: 'javascript',
      level: level,
      logger: 'backstop.sdk',
      message: message,
      request: { url: location.href, headers: { 'User-Agent': navigator.userAgent } },
      sdk: { name: 'backstop.browser.stub', version: VERSION }
    };
    if (isObj(o) && o.release) event.release = str(o.release);
    if (isObj(o) && o.environment) event.environment = str(o.environment);
    return event;
  }
  /* Posts an envelope of one item (`id`: its event's) without the wasm. `how`: 0 fetch
     (keepalive within the browser's quota), by beacon if it fails; 1 beacon only (the page is
     closing); 2 beacon, by fetch if the browser refuses it. `done(status)` gets a fetch's
     answer (0: none). */
  function post(url, id, type, item, how, done) {
    try {
      var payload = JSON.stringify(item);
      var header = { sent_at: new Date().toISOString() };
      if (id) header.event_id = id;
      var body = JSON.stringify(header) + '\n' +
        JSON.stringify({ type: type, length: new TextEncoder().encode(payload).length }) + '\n' + payload + '\n';
      if ((how && bs_beacon(url, body)) || how === 1) return;
      origFetch.call(window, url, { method: 'POST', body: body, mode: 'cors', credentials: 'omit', keepalive: body.length < @@KEEPALIVE_MAX_BYTES@@ })
        .then(function (r) { if (done) done(r.status); }, function () { if (!how) bs_beacon(url, body); if (done) done(0); });
    } catch (e) { /* never into the page */ }
  }

  /* One small event, without the wasm: that the SDK failed to load, why, on which page, and the
     minimal records of what was captured meanwhile (those are sent in full too once a retry
     loads the wasm). At most 5 reports a page; each carries only records not reported yet. */
  var failureReports = 0;
  function sendLoadFailure(why, beacon) {
    if (failureReports >= 5) return;
    /* Backstop.init's DSN, else the script tag's (init may have been given a bad one). */
    var o = options || data;
    var url = (isObj(o) && endpoint(o.dsn)) || endpoint(data.dsn);
    if (!url) return;
    failureReports++;
    var records = lost.map(function (r) { return new Date(r.t).toISOString() + ' ' + r.m; });
    var dropped = lostDropped;
    lost = [];
    lostDropped = 0;
    var id = hex32();
    var event = stubEvent(id, 'error', 'SDK failed to load: ' + why, o);
    event.fingerprint = ['backstop-sdk-failed-to-load'];
    event.tags = { 'backstop.sdk': 'failed_to_load' };
    event.extra = { wasm_url: wasmUrl, attempt: attempts, next_retry_in_ms: Math.max(0, retryAt - Date.now()), captured_meanwhile: records, captured_meanwhile_not_listed: dropped };
    post(url, id, 'event', event, beacon ? 1 : 0, function (status) {
      if (status) bs_notify(id, 'load_failure', null, event.message, status < 300 ? 'fetch' : 'refused:' + status);
    });
  }

  /* Release health, without the wasm (it works when the wasm cannot load): one session per page
     load, `init` with status ok, sent by beacon once the page has loaded (a tick later, so
     Backstop.init's options given by then apply), and one update when an event it sends makes
     it errored or crashed (`level` 1 or 2; see bs_notify). As Sentry's SDKs do, none without a
     release; `data-sessions="false"` or `Backstop.init({ sessions: false })` turns them off. */
  var sid = '';
  var sessionStarted;
  var sessionLevel = 0;
  function session(level) {
    var o = cfg || options || data;
    var url = isObj(o) && o.release && data.sessions !== 'false' && o.sessions !== false && endpoint(o.dsn);
    if (!url || (sid && level <= sessionLevel)) return;
    var now = new Date().toISOString();
    var s = { sid: sid || (sid = hex32()), init: !sessionStarted, started: sessionStarted || (sessionStarted = now), timestamp: now,
      status: ['ok', 'errored', 'crashed'][level], errors: level ? 1 : 0, attrs: { release: str(o.release) } };
    if (o.environment) s.attrs.environment = str(o.environment);
    sessionLevel = level;
    post(url, '', 'session', s, 2);
  }

  /* Backstop.test({ timeoutMs }): a test event ("Backstop test event", tag backstop.test=true)
     sent the way an error goes (through the wasm, loaded now if it is not; by the stub's own
     sender if it cannot load), then the collector's receipt endpoint polled until the event is
     stored. Resolves { received: true, event_id, round_trip_ms, via: 'wasm' | 'stub' }; rejects
     with an Error saying why (refused key, not received in time, dropped by the page's own
     options) after at most timeoutMs (10 s). Calls after the first number their message, as
     the SDK drops an event identical to the one before. */
  var tests = 0;
  function selfTest(opts) {
    var timeout = isObj(opts) && opts.timeoutMs > 0 ? +opts.timeoutMs : 10000;
    var end = Date.now() + timeout;
    var message = 'Backstop test event' + (tests++ ? ' (' + tests + ')' : '');
    var via = 'wasm';
    var id, dsn, t0;
    var p = load(true).then(function () {
      if (!started) throw new Error('the SDK is not running: no valid DSN or options (see the console)');
      dsn = cfg.dsn;
      t0 = Date.now();
      testing = true;
      try { id = wasm_bindgen.capture_message(message, 'info'); } finally { testing = false; }
      if (!id) throw new Error('the SDK dropped the test event (sampleRate, beforeSend, ignoreErrors, maxEvents or a rate limit)');
    }, function () {
      /* The wasm did not load (reported as such, see sendLoadFailure): the stub sends it. */
      var o = options || data;
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
    return p.catch(function (e) {
      var err = new Error('Backstop.test: ' + str(e && e.message));
      testErrors.add(err);
      throw err;
    });
  }
  /* A page closing while the wasm is still missing: what was captured since the last report
     goes by beacon. */
  window.addEventListener('pagehide', function () {
    if (!loaded && attempts && !attempt && lost.length) sendLoadFailure(lastWhy + ' (still not loaded when the page closed)', true);
  });

  if (!lazy) load();
  /* After the page's load event: the session (see session), and when lazy the envelopes an
     earlier page load kept offline (src/transport.rs), which the wasm sends: it is loaded if
     there are any. Checked a second later, as a page's first storage access reads the storage
     area synchronously. */
  var pageLoaded = function () {
    origSetTimeout.call(window, function () { session(0); }, 0);
    if (lazy) {
      origSetTimeout.call(window, function () {
        try {
          for (var i = 0; i < localStorage.length; i++) {
            if (String(localStorage.key(i)).indexOf(@@QUEUE_KEY_PREFIX@@) === 0) return load();
          }
        } catch (e) { /* storage unavailable: nothing was kept either */ }
      }, @@FIRST_QUEUE_CHECK_MS@@);
    }
  };
  if (document.readyState === 'complete') pageLoaded();
  else window.addEventListener('load', pageLoaded);
})();
