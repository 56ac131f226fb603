  /* Backstop epilogue: load backstop_bg.js and the wasm beside this script when there is
     something to report (see prelude.js), start with the options, then run what waited; the
     stub's own sender (load failures, sessions). Never throws into the page. */

  /* The options the SDK runs with (those of its last successful init). */
  var cfg = null;
  function start(o) {
    if (!B.init(o)) return;
    cfg = o;
    if (o.wrapCallbacks === false) wrapOn = false;
    if (started) return;
    started = true;
    var pending = queue;
    queue = [];
    crumbs = 0;
    pending.forEach((c) => { soon(c.f); });
    resolveReady();
  }

  /* The SDK's other files sit beside this script: backstop_bg.wasm and backstop_bg.js (for
     backstop.js; <name>_bg.wasm and <name>_bg.js for another <name>.js), query kept. */
  var wasmUrl = src.replace(/\.js([?#]|$)/, '_bg.wasm$1');
  var bgUrl = wasmUrl.replace(/\.wasm([?#]|$)/, '.js$1');

  /* What backstop_bg.js gets of this script, in this order (bg.js names them): the original
     fetch and setTimeout, the wasm's URL, soon, notify, session, beacon, diagnose, str, isObj,
     isErr, entry, endpoint, stubEvent, post, hex32, the options given so far, and a function
     switching the SDK off. An array: its names would be bytes of every page. */
  var hooks = [origFetch, origSetTimeout, wasmUrl, soon, notify, session, beacon, diagnose, str, isObj, isErr, entry,
    endpoint, stubEvent, post, hex32, () => { return options || data; }, () => { started = false; queue = []; }];
  /* Runs backstop_bg.js once: a <script> (the page's CSP applies as to any script: the nonce
     of this script's tag is copied) with its integrity hash, cross-origin without
     credentials. Rejects with an Error saying why (`url`: the script's). */
  var el = null;
  function loadScript() {
    if (B) return Promise.resolve();
    return new Promise((resolve, reject) => {
      var s = el = document.createElement('script');
      var fail = (why) => { var e = new Error(why); e.url = bgUrl; reject(e); };
      s.src = bgUrl;
      s.crossOrigin = 'anonymous';
      s.integrity = BG_INTEGRITY;
      if (nonce) s.nonce = nonce;
      s.backstop = (b) => { if (!B) B = b; return hooks; };
      s.onload = () => { s.remove(); if (B) resolve(); else fail('it handed over nothing'); };
      s.onerror = () => { s.remove(); diagnose(bgUrl, 'the script did not load').then(fail); };
      (document.head || document.documentElement).appendChild(s);
    });
  }

  /* Loads backstop_bg.js and the wasm (once it succeeds; fetched together), then starts with
     the options given so far. A failed load does not switch the SDK off: the failure is
     reported without the wasm (below), what was captured keeps waiting, and the next thing to
     report retries after a backoff (5 s, doubling, at most 5 min). `now` (Backstop.load) skips
     the backoff. Returns a promise of this attempt. */
  var attempt = null;
  var attempts = 0;
  var retryAt = 0;
  var lastWhy = '';
  function load(now) {
    if (loaded) return Promise.resolve();
    if (attempt) return attempt;
    if (!now && attempts && Date.now() < retryAt) return ready;
    attempts++;
    var init = { mode: 'cors', credentials: 'omit', integrity: WASM_INTEGRITY };
    /* The original fetch: loading the SDK itself is no breadcrumb. */
    var wasm = new Promise((resolve) => { resolve(origFetch(wasmUrl, init)); });
    wasm.catch(() => { /* read by bg.js, or dropped when backstop_bg.js failed */ });
    attempt = loadScript().then(() => { return B.run(wasm); }).then(() => {
      loaded = true;
      attempt = null;
      lost = [];
      lostDropped = 0;
      /* Backstop.init's options replace the data attributes' (both were given before the
         load: what waited must run with the page's own options). */
      if (options) start(options);
      else if (data.dsn) start({ dsn: data.dsn, release: data.release, environment: data.environment });
      options = null;
    }, (e) => {
      var why = str((e && e.message) || e);
      attempt = null;
      lastWhy = why;
      retryAt = Date.now() + Math.min(2500 * 2 ** attempts, @@MAX_BACKOFF_MS@@);
      console.warn('[backstop] SDK could not load ' + ((e && e.url) || wasmUrl) + ': ' + why + ' (reported; retried on the next error)');
      sendLoadFailure(why, false);
      var err = new Error(why);
      rejectReady(err);
      throw err;
    });
    attempt.catch(() => { /* Backstop.load() callers may ignore it */ });
    return attempt;
  }

  /* Why `url` (the wasm, or backstop_bg.js) did not load, when the browser said only
     "Failed to fetch" or fired a script's error event (`msg`): a CSP block fires
     securitypolicyviolation, a second look without the integrity check tells a mismatch (it
     loads) from a status (it answers) from a block or an outage (it fails too), and an offline
     browser says so. */
  var csp = {};
  document.addEventListener('securitypolicyviolation', (e) => {
    try {
      [wasmUrl, bgUrl].forEach((u) => { if (String(e.blockedURI).startsWith(u.split(/[?#]/)[0])) csp[u] = str(e.violatedDirective); });
    } catch (x) { /* idem */ }
  });
  function diagnose(url, msg) {
    var why = (w) => { return csp[url] ? 'blocked by CSP (' + csp[url] + ')' : w; };
    return new Promise((resolve) => { resolve(origFetch(url, { method: 'HEAD', mode: 'cors', credentials: 'omit', cache: 'no-store' })); })
      .then((r) => {
        return why(r.ok ? 'integrity mismatch: ' + url + ' (' + msg + ')' : 'HTTP ' + r.status + ' for ' + url);
      }, () => {
        return why((navigator.onLine === false ? 'offline' : 'fetch failed: network, block or CORS') + ' (' + msg + ')');
      });
  }

  /* An endpoint of a DSN's project (`what`: the default `envelope/`, or `receipt/<id>`), parsed
     here because the wasm's parser may be what failed to arrive; null when the DSN does not
     parse (the wasm would refuse it too). */
  function endpoint(dsn, what) {
    try {
      var u = new URL(str(dsn));
      var m = u.pathname.match(/^(.*)\/(\d+)\/*$/);
      return u.username && m && /^https?:$/.test(u.protocol)
        ? u.origin + m[1] + '/api/' + m[2] + '/' + (what || 'envelope/') + '?sentry_version=7&sentry_key=' +
          encodeURIComponent(decodeURIComponent(u.username)) + '&sentry_client=backstop.browser.stub%2F' + VERSION
        : null;
    } catch (e) { return null; }
  }
  function hex32() {
    var s = '';
    for (var i = 0; i < 32; i++) s += (Math.random() * 16 | 0).toString(16);
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
      sdk: { name: 'backstop.browser.stub', version: VERSION },
      release: isObj(o) && o.release ? str(o.release) : undefined,
      environment: isObj(o) && o.environment ? str(o.environment) : undefined
    };
    return event;
  }
  /* Posts an envelope of one item (`id`: its event's) without the wasm. `how`: 0 fetch
     (keepalive within the browser's quota), by beacon if it fails; 1 beacon only (the page is
     closing); 2 beacon, by fetch if the browser refuses it. `done(status)` gets a fetch's
     answer (0: none). */
  function post(url, id, type, item, how, done) {
    try {
      var payload = JSON.stringify(item);
      var body = JSON.stringify({ sent_at: new Date().toISOString(), event_id: id || undefined }) + '\n' +
        JSON.stringify({ type: type, length: new TextEncoder().encode(payload).length }) + '\n' + payload + '\n';
      if ((how && beacon(url, body)) || how === 1) return;
      origFetch(url, { method: 'POST', body: body, mode: 'cors', credentials: 'omit', keepalive: body.length < @@KEEPALIVE_MAX_BYTES@@ })
        .then((r) => { if (done) done(r.status); }, () => { if (!how) beacon(url, body); if (done) done(0); });
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
    var id = hex32();
    var event = stubEvent(id, 'error', 'SDK failed to load: ' + why, o);
    event.fingerprint = ['backstop-sdk-failed-to-load'];
    event.tags = { 'backstop.sdk': 'failed_to_load' };
    event.extra = { wasm_url: wasmUrl, attempt: attempts, next_retry_in_ms: Math.max(0, retryAt - Date.now()), captured_meanwhile: lost, captured_meanwhile_not_listed: lostDropped };
    lost = [];
    lostDropped = 0;
    post(url, id, 'event', event, beacon ? 1 : 0, (status) => {
      if (status) notify(id, 'load_failure', null, event.message, status < 300 ? 'fetch' : 'refused:' + status);
    });
  }

  /* Release health, without the wasm (it works when the wasm cannot load): one session per page
     load, `init` with status ok, sent by beacon once the page has loaded (a tick later, so
     Backstop.init's options given by then apply), and one update when an event it sends makes
     it errored or crashed (`level` 1 or 2; see bg.js's bs_notify). As Sentry's SDKs do, none without a
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
      status: ['ok', 'errored', 'crashed'][level], errors: level ? 1 : 0,
      attrs: { release: str(o.release), environment: o.environment ? str(o.environment) : undefined } };
    sessionLevel = level;
    post(url, '', 'session', s, 2);
  }

  /* A page closing while the wasm is still missing: what was captured since the last report
     goes by beacon. */
  addEventListener('pagehide', () => {
    if (!loaded && attempts && !attempt && lost.length) sendLoadFailure(lastWhy + ' (page closed)', true);
  });

  if (!lazy) load();
  /* After the page's load event: the session (see session), and when lazy the envelopes an
     earlier page load kept offline (src/transport.rs), which the wasm sends: it is loaded if
     there are any. Checked a second later, as a page's first storage access reads the storage
     area synchronously. */
  var pageLoaded = () => {
    origSetTimeout(() => { session(0); }, 0);
    if (lazy) {
      origSetTimeout(() => {
        try {
          for (var i = 0; i < localStorage.length; i++) {
            if (String(localStorage.key(i)).startsWith(@@QUEUE_KEY_PREFIX@@)) return load();
          }
        } catch (e) { /* storage unavailable: nothing was kept either */ }
      }, @@FIRST_QUEUE_CHECK_MS@@);
    }
  };
  if (document.readyState === 'complete') pageLoaded();
  else addEventListener('load', pageLoaded);

  /* The inline snippet's events (snippet.js: errors and rejections from before this script
     ran): its listeners removed, each captured as if this script had seen it. */
  try {
    var early = window.__backstop;
    if (early && typeof early.h === 'function') {
      removeEventListener('error', early.h, true);
      removeEventListener('unhandledrejection', early.h);
      delete window.__backstop;
      early.forEach((e) => { (e.type === 'unhandledrejection' ? onRejection : onError)(e); });
    }
  } catch (e) { /* a snippet of another shape */ }
})();
