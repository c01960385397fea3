// The order pages' behaviour (no inline script: the CSP). Three things:
// 1. the list's live part asks only for orders newer than its newest row (console.js marks it
//    open);
// 2. rows it adds are announced once, and never shown twice;
// 3. on a new order, "Add" under a found product fills the next empty line (asking for one
//    more line, through the "Add a line" button, when none is empty).
(function () {
  "use strict";

  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail.elt;
    if (!elt || elt.id !== "order-rows") {
      return;
    }
    var newest = elt.querySelector("tr[data-cursor]");
    event.detail.parameters.after = newest ? newest.getAttribute("data-cursor")
      : elt.getAttribute("data-since");
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "order-rows") {
      return;
    }
    var seen = {};
    var added = [];
    target.querySelectorAll("tr[data-order-id]").forEach(function (row) {
      var id = row.getAttribute("data-order-id");
      if (seen[id]) {
        row.remove();
        return;
      }
      seen[id] = true;
      if (row.classList.contains("is-new") && !row.hasAttribute("data-announced")) {
        row.setAttribute("data-announced", "");
        var link = row.querySelector("a");
        added.push(link ? link.textContent : id);
      }
    });
    var empty = document.getElementById("no-orders");
    if (empty && target.querySelector("tr")) {
      empty.remove();
    }
    var announcer = document.getElementById("live-announcer");
    if (announcer && added.length) {
      announcer.textContent = (announcer.getAttribute("data-new-order") || "New order") +
        ": " + added.join(", ");
    }
  });

  var waitingSku = null;  // a found product to put on the line being added

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "line-rows" || waitingSku === null) {
      return;
    }
    var sku = waitingSku;
    waitingSku = null;
    fillLine(sku);
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-add-sku]") : null;
    if (!button) {
      return;
    }
    var sku = button.getAttribute("data-add-sku");
    if (!fillLine(sku)) {
      var more = document.querySelector("button#add-line");
      if (more) {
        waitingSku = sku;
        more.click();
      }
    }
  });

  function fillLine(sku) {
    var inputs = document.querySelectorAll("input.line-sku");
    for (var i = 0; i < inputs.length; i++) {
      if (inputs[i].value === sku || inputs[i].value === "") {
        var quantity = document.getElementById(inputs[i].id.replace("sku_", "quantity_"));
        if (inputs[i].value === sku && quantity) {
          quantity.value = String((parseInt(quantity.value, 10) || 0) + 1);
        }
        inputs[i].value = sku;
        if (quantity) {
          quantity.focus();
          quantity.select();
        }
        return true;
      }
    }
    return false;
  }
})();
