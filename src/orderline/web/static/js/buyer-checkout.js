// The hosted checkout in the browser (templates/buyer/checkout*.html load it; no inline
// script: the CSP). The pages work without it; with it, a button that places an order or
// pays is pressed once: a second tap while the first is on its way does nothing (the
// server's Idempotency-Key would place one order anyway).
(function () {
  "use strict";
  function once(event) {
    var form = event.target;
    if (!form.matches || !form.matches(".confirm-form, .code-form, .sandbox-form")) {
      return;
    }
    if (form.dataset.sent === "true") {
      event.preventDefault();
      return;
    }
    form.dataset.sent = "true";
    var button = form.querySelector("button[type=submit]");
    if (button) {
      button.setAttribute("aria-busy", "true");
    }
  }
  document.addEventListener("submit", once);
  // htmx carries an element's old "style" attribute over to its new copy while it settles,
  // with setAttribute, which the CSP (style-src 'self') refuses; these pages set no style
  // attributes, so htmx need not carry any.
  if (window.htmx) {
    window.htmx.config.attributesToSettle = ["class", "width", "height"];
  }
})();
