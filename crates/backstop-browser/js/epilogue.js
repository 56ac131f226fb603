  /* Backstop epilogue: load the wasm beside this script, then hand over from the buffering
     listeners to the SDK's own. Never throws into the page. */
  function stopBuffering() {
    window.removeEventListener('error', onError, true);
    window.removeEventListener('unhandledrejection', onRejection);
  }

  function start(opts) {
    try {
      wasm_bindgen.init(opts);
    } catch (e) {
      console.error('[backstop] ' + ((e && e.message) || e));
      return;
    }
    if (started) return;
    started = true;
    stopBuffering();
    var early = buffer;
    var pending = calls;
    buffer = [];
    calls = [];
    try { wasm_bindgen.drain_early(early); } catch (e) { /* never into the page */ }
    pending.forEach(function (c) {
      try { wasm_bindgen[c[0]].apply(null, c[1]); } catch (e) { /* idem */ }
    });
    resolveReady();
  }

  var wasmUrl = /backstop\.js([?#]|$)/.test(src)
    ? src.replace(/backstop\.js([?#]|$)/, 'backstop_bg.wasm$1')
    : src.replace(/\.js([?#]|$)/, '_bg.wasm$1');

  new Promise(function (resolve) {
    resolve(wasm_bindgen({ module_or_path: wasmUrl }));
  }).then(function () {
    loaded = true;
    if (data.dsn) start({ dsn: data.dsn, release: data.release, environment: data.environment });
    if (options) start(options);
    options = null;
  }).catch(function (e) {
    failed = true;
    stopBuffering();
    buffer = [];
    calls = [];
    console.warn('[backstop] SDK disabled: ' + ((e && e.message) || e));
    rejectReady(e);
  });
})();
