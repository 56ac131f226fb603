// Loads the Backstop SDK from the collector, and starts listening for what it sends before
// anything can be sent. The collector is this page's own origin when the worker serves the demo
// (the port changes between runs), or `?collector=<origin>` when the page is served by another
// site, as a real site is (the end-to-end tests serve it from a different origin).
'use strict';

(function () {
  var KEY = 'd0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0'; // dev public key of project 1
  var collector = location.origin;
  var asked = new URLSearchParams(location.search).get('collector');
  if (asked) {
    try {
      var u = new URL(asked);
      if (u.protocol === 'http:' || u.protocol === 'https:') collector = u.origin;
    } catch (e) { /* not a URL: this page's origin */ }
  }
  var at = new URL(collector);
  var dsn = at.protocol + '//' + KEY + '@' + at.host + '/1';

  // Everything the SDK reports as sent, kept until demo.js renders the log (the SDK may send the
  // early error before the body is parsed).
  var demo = (window.backstopDemo = { publicKey: KEY, projectId: '1', dsn: dsn, collector: collector, sent: [], onSent: null });
  window.addEventListener('backstop:sent', function (e) {
    var entry = { at: Date.now(), detail: e.detail || {} };
    demo.sent.push(entry);
    if (typeof demo.onSent === 'function') demo.onSent(entry);
  });

  // Parser-blocking on purpose: the SDK's stub must be installed before the next script runs.
  // The collector is an origin and the DSN only the key, its host and '1'; escape them anyway.
  var esc = function (v) { return v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;'); };
  document.write(
    '<script src="' + esc(collector) + '/sdk/backstop.js" crossorigin="anonymous" data-dsn="' + esc(dsn) + '"' +
      ' data-environment="demo" data-release="demo@1"><\/script>'
  );
})();
