// Loads the Backstop SDK for this page's own host (the port changes between runs), and starts
// listening for what it sends before anything can be sent.
'use strict';

(function () {
  var KEY = 'd0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0'; // dev public key of project 1
  var dsn = location.protocol + '//' + KEY + '@' + location.host + '/1';

  // Everything the SDK reports as sent, kept until demo.js renders the log (the SDK may send the
  // early error before the body is parsed).
  var demo = (window.backstopDemo = { publicKey: KEY, projectId: '1', dsn: dsn, sent: [], onSent: null });
  window.addEventListener('backstop:sent', function (e) {
    var entry = { at: Date.now(), detail: e.detail || {} };
    demo.sent.push(entry);
    if (typeof demo.onSent === 'function') demo.onSent(entry);
  });

  // Parser-blocking on purpose: the SDK's stub must be installed before the next script runs.
  // The DSN contains only the key, the page's host and '1'; escape it anyway for the attribute.
  var attr = dsn.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  document.write(
    '<script src="/sdk/backstop.js" data-dsn="' + attr + '"' +
      ' data-environment="demo" data-release="demo@1"><\/script>'
  );
})();
