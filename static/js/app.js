// Dhamen — shared page behaviour (no inline scripts: the CSP forbids them).
(function () {
  "use strict";
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  // htmx requests carry the CSRF token in a header.
  document.addEventListener("htmx:configRequest", function (evt) {
    var method = (evt.detail.verb || "get").toUpperCase();
    if (method !== "GET" && method !== "HEAD") {
      evt.detail.headers["X-CSRFToken"] = csrfToken();
    }
  });
  // Show htmx error answers (4xx/5xx) instead of silently dropping them.
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var status = evt.detail.xhr.status;
    if (status === 422 || status === 400 || status === 409) {
      evt.detail.shouldSwap = true;
      evt.detail.isError = false;
    }
  });
  // Elements with data-print print the page.
  document.addEventListener("click", function (evt) {
    var el = evt.target.closest("[data-print]");
    if (el) { evt.preventDefault(); window.print(); }
  });
  // Elements with data-autofocus-select select their text on focus (fast re-typing at the counter).
  document.addEventListener("focusin", function (evt) {
    if (evt.target.matches && evt.target.matches("input[data-select-on-focus]")) { evt.target.select(); }
  });
})();
