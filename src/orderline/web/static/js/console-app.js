// The console as an app on a phone's home screen (console/layout.html loads it): registers the
// service worker /console/sw.js (web/console/phone_app.py), which keeps the console's static
// files and shows an offline page when a console page cannot be reached. It never keeps the
// pages themselves. The <html> element gets data-app="ready" once the worker is active (tests
// wait on it).
(function () {
  "use strict";
  if (!("serviceWorker" in navigator) || !window.isSecureContext) {
    return;
  }
  function register() {
    navigator.serviceWorker.register("/console/sw.js", { scope: "/console" })
      .then(function () {
        return navigator.serviceWorker.ready;
      })
      .then(function () {
        document.documentElement.setAttribute("data-app", "ready");
      })
      .catch(function () {
        // No worker (a private window, a browser that refuses): the console works as before.
      });
  }
  if (document.readyState === "complete") {
    register();
  } else {
    window.addEventListener("load", register);
  }
})();
