// Stripe's Payment Element on the hosted checkout's card step (checkout_card.html loads it
// after https://js.stripe.com/v3, on that page only). The card goes from the browser to
// Stripe; Orderline gets the outcome from Stripe's webhooks, and the buyer lands on the order
// page (the form's data-return-url).
(function () {
  "use strict";
  function start() {
    var form = document.getElementById("stripe-form");
    if (!form || typeof window.Stripe !== "function") {
      return;
    }
    var stripe = window.Stripe(form.dataset.publishableKey);
    var elements = stripe.elements({ clientSecret: form.dataset.clientSecret });
    elements.create("payment").mount("#payment-element");
    var message = document.getElementById("stripe-message");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      button.setAttribute("aria-busy", "true");
      button.disabled = true;
      stripe.confirmPayment({
        elements: elements,
        confirmParams: { return_url: form.dataset.returnUrl }
      }).then(function (result) {
        if (result.error) {
          message.textContent = result.error.message || "";
          button.removeAttribute("aria-busy");
          button.disabled = false;
        }
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
