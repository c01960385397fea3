// The order pages' service worker, served as /o/sw.js (scope /o/) by web/buyer/order_pages.py.
// It keeps the last page of each order link, and the files it loads, so the payment
// instructions stay readable without network: network first, the kept copy when the network
// fails. Copies are kept by their exact address (the link carries the order's token), so one
// order's link never opens another's copy. Nothing else is kept: not the live part, the
// proofs' files, the upload, or the API.
"use strict";

var CACHE = "orderline-order-pages-v1";
var ORDER_PAGE = /^\/o\/oat_[A-Za-z0-9_-]+$/;

function keepable(url) {
  return url.origin === self.location.origin &&
    (ORDER_PAGE.test(url.pathname) || url.pathname.indexOf("/static/") === 0);
}

function keep(request, response) {
  if (response && response.status === 200 && response.type === "basic") {
    var copy = response.clone();
    return caches.open(CACHE).then(function (cache) { return cache.put(request, copy); })
      .then(function () { return response; });
  }
  return Promise.resolve(response);
}

self.addEventListener("install", function () { self.skipWaiting(); });

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) { return name !== CACHE; })
      .map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (request.method !== "GET" || !keepable(url)) { return; }
  event.respondWith(fetch(request).then(function (response) {
    return keep(request, response);
  }, function () {
    return caches.match(request, { ignoreVary: true }).then(function (kept) {
      return kept || Response.error();
    });
  }));
});

// The page asks to keep itself and its files (it was loaded before this worker ran).
self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type !== "keep" || !Array.isArray(data.urls)) { return; }
  event.waitUntil(Promise.all(data.urls.map(function (address) {
    var url = new URL(address, self.location.origin);
    if (!keepable(url)) { return null; }
    var request = new Request(url.href, { credentials: "same-origin" });
    return fetch(request).then(function (response) { return keep(request, response); })
      .catch(function () { return null; });
  })));
});
