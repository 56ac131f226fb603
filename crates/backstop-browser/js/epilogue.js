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

  /* Loads the wasm (once), then starts with the options given so far. */
  function load() {
    if (loading) return;
    loading = true;
    new Promise(function (resolve) {
      /* The original fetch: loading the SDK itself is no breadcrumb. */
      resolve(wasm_bindgen({ module_or_path: origFetch.call(window, wasmUrl) }));
    }).then(function () {
      guardTraps();
      loaded = true;
      /* Backstop.init's options replace the data attributes' (both were given before the
         load: what waited must run with the page's own options). */
      if (options) start(options);
      else if (data.dsn) start({ dsn: data.dsn, release: data.release, environment: data.environment });
      options = null;
    }).catch(function (e) {
      failed = true;
      queue = [];
      console.warn('[backstop] SDK disabled: ' + ((e && e.message) || e));
      rejectReady(e);
    });
  }

  if (!lazy) load();
  else {
    /* Envelopes an earlier page load kept offline (src/transport.rs) are sent by the wasm: load
       it if there are any. Checked a second after the page's load event, as a page's first
       storage access reads the storage area synchronously. */
    var checkQueue = function () {
      origSetTimeout.call(window, function () {
        try {
          for (var i = 0; i < localStorage.length; i++) {
            if (String(localStorage.key(i)).indexOf('backstop:queue:') === 0) return load();
          }
        } catch (e) { /* storage unavailable: nothing was kept either */ }
      }, 1000);
    };
    if (document.readyState === 'complete') checkQueue();
    else window.addEventListener('load', checkQueue);
  }
})();
