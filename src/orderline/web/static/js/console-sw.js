// The console's service worker, served as /console/sw.js (scope /console/) by
// web/console/phone_app.py, which writes ORDERLINE_SHELL above this file: the fingerprinted
// static files every console page loads, the offline page's URL and the cache's version.
//
// What it keeps: those static files (their names change with their content, so a kept copy is
// never stale) and the offline page, both fetched when the worker installs. What it never
// keeps: console pages (no-store: they hold staff data), proof files, the live stream, any
// form's answer. A console page is always asked of the network; when that fails (no
// connection), the offline page answers in its place.
/* global ORDERLINE_SHELL */
(function () {
  "use strict";
  var shell = self.ORDERLINE_SHELL || { version: "none", files: [], offline: "/console/offline" };
  var CACHE = "orderline-console-" + shell.version;
  var kept = {};
  shell.files.forEach(function (path) {
    kept[path] = true;
  });

  self.addEventListener("install", function (event) {
    event.waitUntil(caches.open(CACHE).then(function (cache) {
      // The offline page is asked afresh (not from the HTTP cache), in the browser's language.
      return cache.addAll(shell.files.concat([new Request(shell.offline, { cache: "reload" })]));
    }).then(function () {
      return self.skipWaiting();
    }));
  });

  self.addEventListener("activate", function (event) {
    event.waitUntil(caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name.indexOf("orderline-console-") === 0 && name !== CACHE;
      }).map(function (name) {
        return caches.delete(name);
      }));
    }).then(function () {
      return self.clients.claim();
    }));
  });

  function offlinePage() {
    return caches.open(CACHE).then(function (cache) {
      return cache.match(shell.offline);
    }).then(function (page) {
      return page || Response.error();
    });
  }

  self.addEventListener("fetch", function (event) {
    var request = event.request;
    if (request.method !== "GET") {
      return;
    }
    var url = new URL(request.url);
    if (url.origin !== self.location.origin) {
      return;
    }
    if (kept[url.pathname]) {
      event.respondWith(caches.open(CACHE).then(function (cache) {
        return cache.match(request);
      }).then(function (copy) {
        return copy || fetch(request);
      }));
      return;
    }
    if (request.mode === "navigate" && url.pathname.indexOf("/console") === 0) {
      // Network only: the answer is shown and never stored.
      event.respondWith(fetch(request).catch(offlinePage));
    }
    // Anything else (proof files, the stream, htmx fragments) goes to the network untouched.
  });
})();
