// Starts ReDoc on /redoc (api_docs/redoc.html): a file, because the CSP forbids inline scripts.
// ReDoc's styled-components put their CSS in <style> elements: the page's policy admits those
// with this answer's nonce, which ReDoc sets on each of them.
(function () {
  "use strict";
  var root = document.getElementById("redoc");
  window.Redoc.init(root.dataset.openapiUrl, {nonce: root.dataset.styleNonce}, root);
})();
