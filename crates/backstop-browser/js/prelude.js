/* Backstop browser SDK. prelude.js + wasm-bindgen glue + epilogue.js form one function: the
   page's global scope only gains window.Backstop. This part runs as the <script> executes and
   buffers errors until the wasm is ready (~50 ms). */
(function () {
  'use strict';
  if (window.Backstop) return;
  var script = document.currentScript;
  var src = (script && script.src) || '';
  var data = (script && script.dataset) || {};
  var MAX = 50;
  var buffer = [];
  var calls = [];
  var options = null;
  var loaded = false;
  var started = false;
  var failed = false;
  var resolveReady;
  var rejectReady;
  var ready = new Promise(function (resolve, reject) { resolveReady = resolve; rejectReady = reject; });
  ready.catch(function () { /* a failed load is never an unhandled rejection */ });

  function onError(e) {
    if (buffer.length >= MAX) return;
    var t = e.target;
    if (t && t !== window && t.tagName) {
      buffer.push({ kind: 'resource', tag: String(t.tagName), src: t.currentSrc || t.src || t.href || '' });
    } else {
      buffer.push({ kind: 'error', error: e.error, message: e.message, filename: e.filename, lineno: e.lineno, colno: e.colno });
    }
  }
  function onRejection(e) {
    if (buffer.length < MAX) buffer.push({ kind: 'rejection', reason: e.reason });
  }
  window.addEventListener('error', onError, true);
  window.addEventListener('unhandledrejection', onRejection);

  function call(name, args) {
    if (started) {
      try { return wasm_bindgen[name].apply(null, args); } catch (e) { return undefined; }
    }
    if (!failed && calls.length < MAX) calls.push([name, args]);
  }

  window.Backstop = {
    ready: ready,
    init: function (opts) {
      if (loaded) start(opts);
      else if (!failed) options = opts;
    },
    captureException: function (error) {
      return call('capture_exception', [error]);
    },
    captureMessage: function (message, level) {
      return call('capture_message', [String(message), level == null ? undefined : String(level)]);
    }
  };
