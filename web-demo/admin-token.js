// The admin token, shared by the dashboard pages (/ and /webhooks/): taken from the URL fragment
// `#token=…` (then remembered in localStorage and removed from the address bar and history), else
// from localStorage.
(function () {
  'use strict';
  var KEY = 'backstop.adminToken';
  window.BackstopAdminToken = {
    /** The token or null; `onParams(params)` sees the fragment's other parameters first. */
    read: function (onParams) {
      var hash = location.hash.replace(/^#/, '');
      if (hash) {
        var params = new URLSearchParams(hash);
        if (onParams) onParams(params);
        var fromHash = params.get('token');
        if (fromHash) {
          try { localStorage.setItem(KEY, fromHash); } catch (_) { /* storage disabled */ }
          params.delete('token');
          var rest = params.toString();
          history.replaceState(null, '', location.pathname + location.search + (rest ? '#' + rest : ''));
          return fromHash;
        }
      }
      try { return localStorage.getItem(KEY); } catch (_) { return null; }
    },
    /** Remembers the token (or forgets it, given null). */
    save: function (token) {
      try {
        if (token) localStorage.setItem(KEY, token);
        else localStorage.removeItem(KEY);
      } catch (_) { /* storage disabled: the page keeps it in memory */ }
    },
  };
})();
