// The verification workspace (console/verifications.html and verification.html; no inline
// script: the CSP). On the queue: "select every proof", the count of selected proofs, and
// the ticks kept when the live rows are swapped in. On a proof: zoom and turn the picture
// (buttons and + - [ ] 0; a transform set from here, which the CSP allows), and the keys
// a (approve), r (reject: the reason's list takes the focus), j/n (next), k/p (previous),
// ? (the list of keys). No key does anything while the focus is in a field.
(function () {
  "use strict";

  // --- the queue ---------------------------------------------------------------------------
  var ticked = {};

  function boxes() {
    return Array.prototype.slice.call(document.querySelectorAll("input.verify-select"));
  }

  function showCount() {
    var label = document.getElementById("bulk-count");
    if (!label) {
      return;
    }
    var n = boxes().filter(function (b) { return b.checked; }).length;
    label.textContent = n ? label.getAttribute("data-some") + " " + n
                          : label.getAttribute("data-none");
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.classList && target.classList.contains("verify-select-all")) {
      boxes().forEach(function (b) { b.checked = target.checked; ticked[b.value] = b.checked; });
    } else if (target.classList && target.classList.contains("verify-select")) {
      ticked[target.value] = target.checked;
    }
    showCount();
  });

  document.addEventListener("htmx:afterSwap", function () {
    boxes().forEach(function (b) { b.checked = !!ticked[b.value]; });
    showCount();
  });

  // --- one proof: the picture ---------------------------------------------------------------
  // The picture is drawn at its zoomed size inside a stage as big as the turned picture, so
  // the viewer scrolls to every edge of it (a transform alone would not grow the page).
  function place(image, zoom, turn) {
    var stage = document.getElementById("proof-stage");
    var viewer = stage ? stage.parentElement : null;
    if (!stage || !viewer || !image.naturalWidth) {
      return;
    }
    var sideways = turn === 90 || turn === 270;
    var room = viewer.clientWidth - 2;
    var ratio = image.naturalHeight / image.naturalWidth;
    // At 1x the turned picture fits the viewer's width.
    var fit = sideways ? room / ratio : room;
    var width = Math.min(image.naturalWidth, fit) * zoom;
    var height = width * ratio;
    stage.classList.add("verify-placed");
    stage.style.width = (sideways ? height : width) + "px";
    stage.style.height = (sideways ? width : height) + "px";
    image.style.width = width + "px";
    image.style.height = height + "px";
    image.style.transform = "translate(-50%, -50%) rotate(" + turn + "deg)";
  }

  function view(action) {
    var image = document.getElementById("proof-image");
    if (!image) {
      return false;
    }
    var zoom = parseFloat(image.getAttribute("data-zoom")) || 1;
    var turn = parseInt(image.getAttribute("data-turn"), 10) || 0;
    if (action === "zoom-in") { zoom = Math.min(zoom * 1.25, 6); }
    else if (action === "zoom-out") { zoom = Math.max(zoom / 1.25, 0.25); }
    else if (action === "rotate-left") { turn = (turn + 270) % 360; }
    else if (action === "rotate-right") { turn = (turn + 90) % 360; }
    else if (action === "reset") { zoom = 1; turn = 0; }
    else { return false; }
    image.setAttribute("data-zoom", String(zoom));
    image.setAttribute("data-turn", String(turn));
    place(image, zoom, turn);
    return true;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-view]") : null;
    if (button) {
      view(button.getAttribute("data-view"));
    }
    if (event.target.id === "show-shortcuts" || (event.target.closest && event.target.closest("#show-shortcuts"))) {
      openShortcuts();
    }
  });

  // --- one proof: the keys ------------------------------------------------------------------
  function typing(element) {
    if (!element) {
      return false;
    }
    var tag = element.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || element.isContentEditable;
  }

  function openShortcuts() {
    var dialog = document.getElementById("shortcuts");
    if (dialog && !dialog.open) {
      dialog.showModal();
    }
  }

  function go(id) {
    var link = document.getElementById(id);
    if (link) {
      window.location.assign(link.href);
    }
  }

  // Tests (and anyone curious) can tell the keys are listening.
  document.documentElement.setAttribute("data-verify-keys", "on");

  var VIEW_KEYS = {"+": "zoom-in", "=": "zoom-in", "-": "zoom-out", "[": "rotate-left",
                   "]": "rotate-right", "0": "reset"};

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey ||
        typing(event.target)) {
      return;
    }
    var dialog = document.getElementById("shortcuts");
    if (dialog && dialog.open) {
      return;  // the dialog has the keys (Escape closes it)
    }
    var key = event.key;
    if (key === "?") {
      event.preventDefault();
      openShortcuts();
    } else if (key === "a") {
      var approve = document.getElementById("approve-form");
      if (approve) {
        event.preventDefault();
        approve.requestSubmit();
      }
    } else if (key === "r") {
      var reason = document.getElementById("reason-code");
      if (reason) {
        event.preventDefault();
        reason.focus();
      }
    } else if (key === "j" || key === "n") {
      go("next-proof");
    } else if (key === "k" || key === "p") {
      go("previous-proof");
    } else if (VIEW_KEYS[key] && view(VIEW_KEYS[key])) {
      event.preventDefault();
    }
  });
})();
