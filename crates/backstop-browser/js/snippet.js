/* Backstop inline snippet (optional): pasted as the very first <script> of <head> (the build
   writes it minified to web-demo/sdk/snippet.js and, ready to paste, snippet.html; its CSP
   hash is integrity.json's snippet_csp_hash), it keeps the page's 'error' and
   'unhandledrejection' events (the event objects, at most 30) in window.__backstop until
   backstop.js arrives; backstop.js then removes these listeners and captures each kept event
   as if it had seen it. At most 600 bytes minified (the build fails beyond). */
(function (w) {
  var q = w.__backstop = [];
  q.h = function (e) { if (q.length < 30) q.push(e); };
  w.addEventListener('error', q.h, true);
  w.addEventListener('unhandledrejection', q.h);
})(window);
