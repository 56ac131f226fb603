/* Backstop browser SDK. prelude.js + epilogue.js form backstop.js, one function: the page's
   global scope only gains window.Backstop. It is all a page without errors downloads.
   This file is the platform plumbing: it listens and wraps (errors, rejections, fetch, XHR,
   timers and listeners, history, console, clicks, pagehide), reads page values inside `try`,
   and hands the wasm plain strings and numbers; the wasm holds the state and makes every
   decision, and reaches the page only through the bs_* ports of bg.js (src/host.rs).
   The rest is loaded lazily, beside this script: backstop_bg.js (bg.js: wasm-bindgen's glue,
   the ports, option checks, Backstop.test) and backstop_bg.wasm, fetched together, each
   pinned by its integrity hash, only when there is something to report (an error, a
   rejection, a failed element load, a request that failed or answered outside 2xx, a capture
   call), when an earlier page load left envelopes in the offline queue, or on Backstop.load()
   (or at once with data-lazy="false"). Until it is ready, calls are kept in order: breadcrumbs
   as a ring of the last 100, scope calls (setUser/setTag/...) latest per key, everything else
   up to 100. Events the inline snippet (snippet.js) kept before this script ran go the same way.
   Without the wasm, the stub also sends the page load's session (release health) and, when
   the SDK cannot load, a report of the failure. */
(function () {
  'use strict';
  if (window.Backstop) return;
  var script = document.currentScript || {};
  var src = script.src || '';
  var data = script.dataset || {};
  /* The page's CSP nonce of this script's tag, given to backstop_bg.js's tag. */
  var nonce = script.nonce || '';
  var MAX = @@MAX_PENDING@@;
  /* Filled in by `cargo xtask build-sdk`: the SDK version and the Subresource Integrity
     hashes of the wasm and of backstop_bg.js (both are loaded with them, so a page that pins
     backstop.js by its own integrity hash also pins the rest). */
  var VERSION = '@@BACKSTOP_VERSION@@';
  var WASM_INTEGRITY = '@@BACKSTOP_WASM_INTEGRITY@@';
  var BG_INTEGRITY = '@@BACKSTOP_BG_INTEGRITY@@';
  /* backstop_bg.js's side once it has run (see bg.js): w, the wasm's exports; init, report,
     run, test. */
  var B = null;
  /* Calls waiting for the wasm: {f, k} with k 0 = plain, 1 = breadcrumb, else a scope key. */
  var queue = [];
  var crumbs = 0;
  var lazy = data.lazy !== 'false';
  var loading = false;
  var options = null;
  var loaded = false;
  var started = false;
  /* Minimal records of what was captured while the wasm is not running (at most 20, each
     bounded): what a load-failure report carries, since the calls in `queue` need the wasm. */
  var lost = [];
  var lostDropped = 0;
  var busy = false;
  var lastWrapped;
  var wrapOn = data.wrapCallbacks !== 'false';
  var origFetch = window.fetch;
  var origSetTimeout = window.setTimeout;
  /* Backstop.test()'s failures (never the page's unhandled rejections). */
  var testErrors = new WeakSet();
  var resolveReady;
  var rejectReady;
  var ready = new Promise((resolve, reject) => { resolveReady = resolve; rejectReady = reject; });
  ready.catch(() => { /* a failed load is never an unhandled rejection */ });

  /* Runs f now once the SDK is started, else keeps it for later: k 1 is a breadcrumb (the
     oldest goes once 100 wait), a string k is a scope call (replaces the one with the same
     key), others are kept while fewer than 100 wait. */
  function soon(f, k) {
    if (started) { try { f(); } catch (e) { /* never into the page */ } return; }
    var i;
    if (k === 1) {
      if (crumbs >= MAX) {
        for (i = 0; queue[i].k !== 1; i++) { /* the oldest breadcrumb */ }
        queue.splice(i, 1);
      } else crumbs++;
    } else if (typeof k === 'string') {
      for (i = 0; i < queue.length; i++) if (queue[i].k === k) { queue.splice(i, 1); break; }
    } else if (queue.length - crumbs >= MAX) return;
    queue.push({ f: f, k: k });
  }
  /* Something to report: kept like soon(f), and the wasm is loaded if it is not yet. `m`, a
     one-line description, is kept for the load-failure report (see epilogue.js). */
  function need(f, m) {
    /* Page code run while a value is read (a getter) captures nothing, as in report(). */
    if (busy) return;
    if (!started && m) {
      if (lost.length < 20) lost.push(new Date().toISOString() + ' ' + m.slice(0, 1000));
      else lostDropped++;
    }
    soon(f);
    load();
  }
  /* One line for an error or any value: "Type: message" plus the first stack lines. */
  function brief(v) {
    if (!isErr(v)) return describe(v);
    var head = (prop(v, 'name') || 'Error') + ': ' + (prop(v, 'message') || '');
    var stack = prop(v, 'stack') || '';
    return (stack.startsWith(head) ? '' : head + (stack && '\n')) + stack.slice(0, 600);
  }
  /* A breadcrumb, stamped now (it may be handed over much later). */
  function crumb(name, args) {
    args.push(Date.now());
    soon(() => w(name, args), 1);
  }
  /* A call into the wasm (once backstop_bg.js has run). */
  function w(name, args = []) { return B.w[name](...args); }
  function str(v) {
    try { return String(v); } catch (e) { return '[unprintable]'; }
  }
  function prop(o, k) {
    try { var v = o[k]; return typeof v === 'string' ? v : null; } catch (e) { return null; }
  }
  function isObj(v) { return Object(v) === v; }
  function isErr(v) {
    return isObj(v) && (prop(v, 'stack') !== null || (prop(v, 'name') !== null && prop(v, 'message') !== null));
  }
  function describe(v) {
    if (typeof v === 'string') return v;
    var j = isObj(v) && json(v);
    return j && j !== '{}' ? j : str(v);
  }
  function entry(v) {
    return isErr(v)
      ? 'E' + (prop(v, 'name') || '') + '\x01' + (prop(v, 'message') || '') + '\x01' + (prop(v, 'stack') || '')
      : 'V' + describe(v);
  }
  /* f(v) with captures from page code it runs (getters, toJSON) refused, as report() does. */
  function guarded(f, v) {
    if (busy) return undefined;
    busy = true;
    try { return f(v); } catch (e) { return undefined; } finally { busy = false; }
  }
  function abs(u) { try { return new URL(u, location).href; } catch (e) { return u; } }

  /* One capture (by bg.js). `busy` refuses captures from page code run while reading values
     (getters). `pre`, when given, is the chain already written (the bare "Script error." case). */
  function report(kind, value, loc, fn, pre) {
    return guarded(() => B.report(kind, value, loc, fn, pre));
  }
  function beacon(url, body) { try { return navigator.sendBeacon(url, body); } catch (e) { return false; } }
  /* An event sent (the wasm's, see bg.js's bs_notify, or the stub's own): 'backstop:sent'. */
  function notify(id, kind, type, message, transport) {
    try {
      dispatchEvent(new CustomEvent('backstop:sent', { detail: { event_id: id, kind: kind, type: type, message: message, transport: transport } }));
    } catch (e) { /* never into the page */ }
  }

  /* Errors, failed element loads, rejections. */
  function onError(e) {
    var t = e.target;
    /* backstop_bg.js failing to load is the SDK's own failure (see loadScript()), no page event. */
    if (t && t === el) return;
    if (t && t !== window && t.tagName) {
      var tag = str(t.tagName);
      var url = prop(t, 'currentSrc') || prop(t, 'src') || prop(t, 'href') || '';
      return need(() => w('capture_resource', [tag, url]), 'failed to load <' + tag.toLowerCase() + '> ' + url);
    }
    var err = e.error;
    /* The rethrow of an error a wrapper just reported (cross-origin: sanitised to null). */
    if (lastWrapped !== undefined && (err === lastWrapped || err == null)) { lastWrapped = undefined; return; }
    var at = [e.filename, e.lineno, e.colno];
    var m = err == null ? str(e.message) : guarded(brief, err);
    need(() => report('error', err, at.join('\x01'), '', err == null ? 'V' + m : undefined), m + ' (' + at.join(':') + ')');
  }
  function onRejection(e) {
    var reason = e.reason;
    /* Backstop.test() failing, its promise left unhandled (typed in the console): not the page's. */
    if (testErrors.has(reason)) return;
    need(() => report('rejection', reason), 'unhandled rejection: ' + guarded(brief, reason));
  }
  addEventListener('error', onError, true);
  addEventListener('unhandledrejection', onRejection);
  addEventListener('online', () => { if (started) w('drain'); });

  function patch(obj, name, make) {
    try {
      var orig = obj && obj[name];
      if (typeof orig === 'function') obj[name] = make(orig);
    } catch (e) { /* a frozen object stays as it is */ }
  }

  /* fetch: the page gets the very promise (or exception) the original gave; the outcome is
     observed on a side chain that never rejects. */
  patch(window, 'fetch', (orig) => function (input, init) {
    var p = orig.apply(window, arguments);
    try {
      var t = Date.now();
      var url = abs(typeof input === 'string' ? input : prop(input, 'url') || prop(input, 'href') || '');
      var method = prop(init, 'method') || prop(input, 'method') || 'GET';
      p.then((r) => {
        requestDone('fetch', method, url, r && r.status, t, '');
      }, (err) => {
        requestDone('fetch', method, url, 0, t, guarded(entry, err) || 'Vnetwork error');
      });
    } catch (e) { /* a thenable of the page's own */ }
    return p;
  });

  /* XMLHttpRequest: method, URL, status, duration and outcome of each request. Listeners are
     per request and remove themselves, so a reused XHR (even one re-sent from its own loadend
     handler) reports each request once; a request cut short by open() is not reported. */
  var XHR = window.XMLHttpRequest && XMLHttpRequest.prototype;
  var xhrs = new WeakMap();
  patch(XHR, 'open', (orig) => function (method, url) {
    try {
      var prev = xhrs.get(this);
      if (prev && prev.t && this.readyState !== 4) prev.c = 1;
      xhrs.set(this, { m: str(method), u: abs(str(url)) });
    } catch (e) { /* idem */ }
    return orig.apply(this, arguments);
  });
  patch(XHR, 'send', (orig) => function () {
    var x = this;
    var info = xhrs.get(x);
    if (info && !info.t) {
      info.t = Date.now();
      var outcome = 'load';
      var types = ['error', 'timeout', 'abort', 'loadend'];
      var on = (e) => {
        if (e.type !== 'loadend') { outcome = e.type; return; }
        types.forEach((t) => { x.removeEventListener(t, on); });
        if (!info.c) {
          requestDone('xhr', info.m, info.u, x.status, info.t,
            { load: '', abort: 'abort', timeout: 'Vtimed out', error: 'Vnetwork error' }[outcome]);
        }
      };
      try { types.forEach((t) => { x.addEventListener(t, on); }); } catch (e) { /* idem */ }
    }
    return orig.apply(this, arguments);
  });

  /* A finished request: only a breadcrumb for a 2xx answer (the wasm decides on the rest:
     failedRequestStatusCodes, aborts, the SDK's own requests), so only the others load it. */
  function requestDone(kind, method, url, status, t, err) {
    var args = [kind, method, url, status, Date.now() - t, err];
    if (!err && status >= 200 && status < 300) return crumb('request_done', args);
    args.push(Date.now());
    need(() => w('request_done', args),
      err || status >= 500 ? kind + ' ' + method + ' ' + url + ' ' + (err ? 'failed: ' + err.slice(1, 200) : 'answered ' + status) : '');
  }

  /* Callbacks keep their stack: an error thrown in a wrapped callback is reported with the
     error object itself (window.onerror would give cross-origin scripts only "Script error."),
     then rethrown unchanged. The same function always gets the same wrapper, so adding a
     listener twice and removing it behave as before. */
  var wrappers = new WeakMap();
  function wrap(fn, name) {
    if (!wrapOn || typeof fn !== 'function') return fn;
    var w = wrappers.get(fn);
    if (!w) {
      w = function () {
        try { return fn.apply(this, arguments); } catch (e) {
          lastWrapped = e;
          need(() => report('wrapped', e, '', name), guarded(brief, e) + ' (in ' + name + ')');
          throw e;
        }
      };
      wrappers.set(fn, w);
    }
    return w;
  }
  ['setTimeout', 'setInterval', 'requestAnimationFrame'].forEach((name) => {
    patch(window, name, (orig) => (fn, ...a) => orig.call(window, wrap(fn, name), ...a));
  });
  var ET = window.EventTarget && EventTarget.prototype;
  patch(ET, 'addEventListener', (orig) => function (type, fn, ...a) {
    return orig.call(this, type, wrap(fn, 'addEventListener'), ...a);
  });
  patch(ET, 'removeEventListener', (orig) => function (type, fn, ...a) {
    var w = typeof fn === 'function' && wrappers.get(fn);
    if (w) orig.call(this, type, w, ...a);
    return orig.call(this, type, fn, ...a);
  });

  /* Navigation: history API, back/forward, hash changes. */
  var href = location.href;
  function nav() {
    var from = href;
    var to = href = location.href;
    if (to !== from) crumb('navigation_crumb', [from, to]);
  }
  ['pushState', 'replaceState'].forEach((name) => {
    patch(window.history, name, (orig) => function () { var r = orig.apply(this, arguments); nav(); return r; });
  });
  addEventListener('popstate', nav);
  addEventListener('hashchange', nav);

  /* console.warn / console.error. */
  ['warn', 'error'].forEach((level) => {
    patch(window.console, level, (orig) => function (...a) {
      crumb('add_breadcrumb', ['console', a.map(str).join(' '), level]);
      return orig.apply(this, a);
    });
  });

  /* Clicks (capture phase, so stopPropagation in the page does not hide them). */
  document.addEventListener('click', (e) => {
    var parts = [];
    for (var el = e.target, i = 0; i < @@MAX_CLICK_PATH@@ && el && el.tagName; i++, el = el.parentElement) {
      parts.push(str(el.tagName) + '\x01' + (prop(el, 'id') || '') + '\x01' + (prop(el, 'className') || ''));
    }
    crumb('click_crumb', [parts.join('\x02')]);
  }, true);

  /* The page going away: send the client report while it still can. */
  function flush() { if (started) try { w('flush'); } catch (e) { /* idem */ } }
  addEventListener('pagehide', flush);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') flush();
  });

  /* API calls: the return value once started, undefined while waiting for the wasm. `k`: how
     a waiting call is kept (see soon); captures (k true) load the wasm. */
  function call(name, args, k) {
    if (started) { try { return w(name, args); } catch (e) { return undefined; } }
    var f = () => w(name, args);
    if (k === true) need(f, name + ': ' + args[0]); else soon(f, k);
  }
  function json(v) { try { return JSON.stringify(v); } catch (e) { /* cyclic, toJSON threw */ } }

  window.Backstop = {
    /* Resolves once the wasm runs; rejects if its first load failed (a later retry that loads
       it makes a fresh read of `Backstop.ready` resolved). */
    get ready() { return loaded ? Promise.resolve() : ready; },
    init: (opts) => {
      if (loaded) start(opts);
      else options = opts;
      /* After the load event the session waited for options, or went with the tag's. */
      if (document.readyState === 'complete') session(0);
    },
    captureException: (error) => {
      if (started) return report('exception', error);
      need(() => report('exception', error), 'captureException: ' + guarded(brief, error));
    },
    captureMessage: (message, level) => {
      return call('capture_message', [str(message), level == null ? undefined : str(level)], true);
    },
    setUser: (user) => call('set_user', [isObj(user) && json(user) || undefined], 'u'),
    setTag: (key, value) => call('set_tag', [key = str(key), str(value)], 't' + key),
    setContext: (name, context) => call('set_context', [name = str(name), isObj(context) && json(context) || undefined], 'c' + name),
    setExtra: (key, value) => call('set_extra', [key = str(key), value === undefined ? undefined : json(value)], 'x' + key),
    addBreadcrumb: (b) => {
      if (!isObj(b)) return;
      var m;
      try { m = b.message; } catch (e) { /* a throwing getter: no message */ }
      crumb('add_breadcrumb', [prop(b, 'category') || '', m == null ? '' : str(m), prop(b, 'level') || undefined]);
    },
    /* Sends the client report now; nothing to send while the wasm is not loaded. */
    flush: flush,
    /* Loads the wasm now (it is otherwise loaded on the first thing to report; a failed load
       is retried after a backoff). Resolves once the SDK runs; rejects if this attempt fails. */
    load: () => { return load(true); },
    /* Sends a test event and resolves once the collector has stored it (bg.js's selfTest; when
       backstop_bg.js itself cannot load, rejects saying why). */
    test: (o) => {
      var p = load(true);
      var go = () => {
        if (!B) throw new Error('the SDK could not load (' + lastWhy + ')');
        return B.test(o, p);
      };
      return p.then(go, go).catch((e) => {
        var err = new Error('Backstop.test: ' + str(e && e.message));
        testErrors.add(err);
        throw err;
      });
    },
    /* For Rust/wasm apps: backstop_browser::capture_panic_hook() calls this. */
    capturePanic: (message, file, line, column) => {
      return call('capture_panic', [str(message), str(file), line >>> 0, column >>> 0], true);
    },
    /* Test hook (not API): panics inside the SDK, to prove a panic is printed once and
       switches the SDK off. */
    _selfTestPanic: () => call('self_test_panic', [])
  };
