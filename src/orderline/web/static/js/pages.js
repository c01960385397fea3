// What every page does in the browser (base.html loads it; no inline script: the CSP).
(function () {
  "use strict";
  function ready() {
    // GOV.UK's error summary pattern: focus the summary, so it is read first and the person
    // can follow its links to the fields.
    var summary = document.querySelector(".error-summary");
    if (summary) {
      summary.focus();
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
