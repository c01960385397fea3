// What every console page does in the browser (console/layout.html loads it; no inline
// script: the CSP). htmx requests carry the session's CSRF token from <meta name="csrf-token">,
// and a live part (the orders list, the dashboard, the verifier's queue) says when its stream
// is connected, with data-live="open" (tests wait on it; so could a badge).
(function () {
  "use strict";
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : null;
  }
  document.addEventListener("htmx:configRequest", function (event) {
    var token = csrfToken();
    if (token) {
      event.detail.headers["X-CSRF-Token"] = token;
    }
  });
  document.addEventListener("htmx:sseOpen", function (event) {
    var source = event.detail && event.detail.elt ? event.detail.elt : event.target;
    if (source && source.setAttribute) {
      source.setAttribute("data-live", "open");
    }
  });
})();
