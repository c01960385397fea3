// The buyer's order page (templates/buyer/order/page.html): copy buttons, the deadline
// counting down, the proof upload with a progress bar and a retry, the live part's follow-up,
// the offline note, and the service worker that keeps the page readable offline.
// No inline script anywhere (the CSP): values come in data- attributes.
(function () {
  "use strict";

  // --- copy ------------------------------------------------------------------------------
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      // The old way, for browsers without the clipboard API (or not on HTTPS).
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.top = "-1000px";
      document.body.appendChild(area);
      area.select();
      var done = false;
      try { done = document.execCommand("copy"); } catch (e) { done = false; }
      document.body.removeChild(area);
      if (done) { resolve(); } else { reject(new Error("copy refused")); }
    });
  }

  function setUpCopy(root) {
    root.querySelectorAll("[data-copy]").forEach(function (button) {
      button.hidden = false;
      var note = button.parentNode.querySelector(".copy-note");
      button.addEventListener("click", function () {
        copyText(button.getAttribute("data-copy")).then(function () {
          note.textContent = note.getAttribute("data-copied");
        }, function () {
          note.textContent = note.getAttribute("data-failed");
        });
        window.setTimeout(function () { note.textContent = ""; }, 4000);
      });
    });
  }

  // --- the deadline ---------------------------------------------------------------------
  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function setUpCountdown(root) {
    root.querySelectorAll("[data-countdown]").forEach(function (shown) {
      var end = Date.parse(shown.getAttribute("data-countdown"));
      function tick() {
        var left = Math.floor((end - Date.now()) / 1000);
        if (isNaN(end)) { return; }
        if (left <= 0) {
          shown.textContent = shown.getAttribute("data-ended");
          return;
        }
        var h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
        shown.textContent = h + ":" + pad(m) + ":" + pad(s) + " " + shown.getAttribute("data-left");
        window.setTimeout(tick, 1000);
      }
      tick();
    });
  }

  // --- the proof upload -----------------------------------------------------------------
  function setUpUpload(form) {
    var fileInput = form.querySelector("#proof-file");
    var cameraInput = form.querySelector("#proof-camera");
    var progress = form.querySelector("#proof-progress");
    var status = form.querySelector("#proof-status");
    var error = form.querySelector("[data-upload-error]");
    var retry = form.querySelector("#proof-retry");
    var send = form.querySelector("#proof-send");
    var chosen = null;  // kept after a failure, for the retry

    [fileInput, cameraInput].forEach(function (input) {
      input.addEventListener("change", function () {
        if (input.files && input.files[0]) {
          chosen = input.files[0];
          var other = input === fileInput ? cameraInput : fileInput;
          other.value = "";
        }
      });
    });

    function failed(message) {
      progress.hidden = true;
      status.textContent = "";
      error.textContent = message;
      error.hidden = false;
      fileInput.setAttribute("aria-invalid", "true");
      retry.hidden = !chosen;
      send.disabled = false;
    }

    function upload() {
      if (!chosen) {
        chosen = (fileInput.files && fileInput.files[0]) || (cameraInput.files && cameraInput.files[0]) || null;
      }
      if (!chosen) { form.submit(); return; }  // the server says what is missing
      var data = new FormData();
      data.append("file", chosen, chosen.name || "proof");
      var request = new XMLHttpRequest();
      request.open("POST", form.getAttribute("action"));
      request.setRequestHeader("Accept", "application/json");
      error.hidden = true;
      error.textContent = "";
      fileInput.removeAttribute("aria-invalid");
      retry.hidden = true;
      send.disabled = true;
      progress.hidden = false;
      progress.value = 0;
      status.textContent = form.getAttribute("data-sending");
      request.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) {
          progress.value = Math.round(100 * event.loaded / event.total);
          status.textContent = form.getAttribute("data-sending") + " " + progress.value + "%";
        }
      });
      request.addEventListener("load", function () {
        if (request.status >= 200 && request.status < 300) {
          progress.value = 100;
          status.textContent = form.getAttribute("data-sent");
          chosen = null;
          form.reset();
          send.disabled = false;
          document.body.dispatchEvent(new CustomEvent("proof-sent", { bubbles: true }));
          return;
        }
        var message = form.getAttribute("data-network-error");
        try { message = JSON.parse(request.responseText).message || message; } catch (e) { /* not JSON */ }
        failed(message);
      });
      request.addEventListener("error", function () { failed(form.getAttribute("data-network-error")); });
      request.send(data);
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      chosen = null;
      upload();
    });
    retry.addEventListener("click", upload);
  }

  // --- the live part --------------------------------------------------------------------
  function followStatus() {
    var live = document.querySelector(".order-live");
    var pay = document.getElementById("pay");
    if (live && pay && live.getAttribute("data-order-status") !== "pending_payment") {
      pay.hidden = true;  // paid or cancelled: nothing left to pay
    }
  }

  // --- offline --------------------------------------------------------------------------
  function setUpOffline(page) {
    var note = document.querySelector("[data-offline-note]");
    function show() { if (note) { note.hidden = navigator.onLine; } }
    window.addEventListener("online", show);
    window.addEventListener("offline", show);
    show();
    var script = page.getAttribute("data-service-worker");
    if (!script || !("serviceWorker" in navigator)) { return; }
    navigator.serviceWorker.register(script, { scope: "/o/" }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (registration) {
      // Keep this page (its exact address) and its files for the next visit without network.
      var urls = [window.location.href];
      document.querySelectorAll("link[rel=stylesheet][href], script[src], link[rel=icon][href]").forEach(function (el) {
        urls.push(el.href || el.src);
      });
      if (registration.active) {
        registration.active.postMessage({ type: "keep", urls: urls });
      }
    }).catch(function () { /* no offline copy: the page still works online */ });
  }

  function ready() {
    var page = document.querySelector(".order-page");
    if (!page) { return; }
    setUpCopy(page);
    setUpCountdown(page);
    var form = document.getElementById("proof-form");
    if (form) { setUpUpload(form); }
    document.body.addEventListener("htmx:afterSwap", followStatus);
    // The stream is connected: say so (data-live="open"; tests wait on it).
    document.addEventListener("htmx:sseOpen", function (event) {
      var source = event.detail && event.detail.elt ? event.detail.elt : event.target;
      if (source && source.setAttribute) { source.setAttribute("data-live", "open"); }
    });
    document.addEventListener("htmx:sseError", function (event) {
      var source = event.detail && event.detail.elt ? event.detail.elt : event.target;
      if (source && source.setAttribute) { source.setAttribute("data-live", "closed"); }
    });
    followStatus();
    setUpOffline(page);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
