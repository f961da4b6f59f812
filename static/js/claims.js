// Dhamen — the counter's claim entry (provider portals). No inline scripts: the CSP forbids them.
//
// Keyboard flow of the lines editor:
//   code + Entrée      picks the catalogue item (label, price, generic filled) and goes to the quantity;
//                      a code the suggestions list does not hold yet (typed at scanner speed) is
//                      resolved on the server, and the line filled when the answer comes
//   Entrée             goes to the next field that needs typing, then to a new line
//   Entrée on an empty line, or Ctrl+Entrée anywhere: decompte (preview), focus on « Valider »
//   F2                 new customer (back to the counter search)
(function () {
  "use strict";

  var pendingFocus = false; // an explicit preview was asked: focus « Valider » when it arrives
  var catalogueTimer = null;

  function form() { return document.getElementById("claim-form"); }
  function lines() { return document.getElementById("lines"); }
  function rowOf(el) { return el && el.closest ? el.closest("tr.line") : null; }
  function field(row, cls) { return row ? row.querySelector("." + cls) : null; }

  function isBlank(row) {
    return !["in-code", "in-label", "in-price"].some(function (cls) {
      var input = field(row, cls);
      return input && input.value.trim() !== "";
    });
  }

  function focusField(input) {
    if (!input) { return; }
    input.focus();
    if (input.select && input.type !== "checkbox") { input.select(); }
  }

  function preview() {
    var f = form();
    if (f && window.htmx) { htmx.trigger(f, "dhamen:preview"); }
  }

  function explicitPreview() {
    var button = document.getElementById("preview-btn");
    pendingFocus = true;
    if (button) { button.click(); }
  }

  function addRow() {
    var template = document.getElementById("line-template");
    var body = lines();
    if (!template || !body) { return null; }
    var next = 0;
    body.querySelectorAll("tr.line").forEach(function (row) {
      next = Math.max(next, parseInt(row.getAttribute("data-uid"), 10) + 1);
    });
    body.insertAdjacentHTML("beforeend", template.innerHTML.replace(/__N__/g, String(next)));
    var rows = body.querySelectorAll("tr.line");
    return rows[rows.length - 1];
  }

  function removeRow(row) {
    var body = lines();
    var rows = Array.prototype.slice.call(body.querySelectorAll("tr.line"));
    var index = rows.indexOf(row);
    if (rows.length === 1) {
      row.querySelectorAll("input").forEach(function (input) {
        if (input.type === "checkbox") { input.checked = false; } else { input.value = input.classList.contains("in-qty") ? "1" : ""; }
      });
      focusField(field(row, "in-code"));
    } else {
      row.remove();
      var rest = body.querySelectorAll("tr.line");
      focusField(field(rest[Math.min(index, rest.length - 1)], "in-code"));
    }
    preview();
  }

  function catalogueOption(code) {
    var list = document.getElementById("catalogue-options");
    var wanted = code.trim().toUpperCase();
    if (!list || !wanted) { return null; }
    for (var i = 0; i < list.options.length; i++) {
      if (list.options[i].value.toUpperCase() === wanted) { return list.options[i]; }
    }
    return null;
  }

  // Fill label, price and generic (an item: {label, price, generic}), without overwriting what
  // the counter typed.
  function fill(row, item) {
    var label = field(row, "in-label");
    var price = field(row, "in-price");
    var generic = field(row, "in-generic");
    if (label && (label.value.trim() === "" || label.hasAttribute("data-auto"))) {
      label.value = item.label;
      label.setAttribute("data-auto", "");
    }
    if (price && (price.value.trim() === "" || price.hasAttribute("data-auto"))) {
      price.value = item.price;
      price.setAttribute("data-auto", "");
    }
    if (generic && !generic.hasAttribute("data-touched")) {
      generic.checked = !!item.generic;
    }
    row.setAttribute("data-filled", (field(row, "in-code").value || "").trim().toUpperCase());
    preview();
  }

  function fillRow(row, option) {
    fill(row, { label: option.getAttribute("data-label"), price: option.getAttribute("data-price"),
                generic: option.getAttribute("data-generic") === "1" });
  }

  // A full code whose suggestion has not arrived: ask the server for that code alone. The line
  // is filled when the answer comes, if its code has not changed meanwhile.
  function resolveCode(row) {
    var f = form();
    var input = field(row, "in-code");
    var code = input ? input.value.trim().toUpperCase() : "";
    if (!f || !code || row.getAttribute("data-filled") === code || row.getAttribute("data-resolving") === code) { return; }
    var base = f.getAttribute("data-code-url");
    if (!base || !window.fetch) { return; }
    row.setAttribute("data-resolving", code);
    var url = base + (base.indexOf("?") < 0 ? "?" : "&") + "code=" + encodeURIComponent(code);
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (item) {
        if (row.getAttribute("data-resolving") === code) { row.removeAttribute("data-resolving"); }
        if (item && item.found && input.value.trim().toUpperCase() === code) { fill(row, item); }
      })
      .catch(function () { row.removeAttribute("data-resolving"); });
  }

  function loadCatalogue(input) {
    var f = form();
    if (!f || !window.htmx) { return; }
    clearTimeout(catalogueTimer);
    catalogueTimer = setTimeout(function () {
      var base = f.getAttribute("data-catalogue-url");
      var url = base + (base.indexOf("?") < 0 ? "?" : "&") + "q=" + encodeURIComponent(input.value.trim());
      htmx.ajax("GET", url, { target: "#catalogue-options", swap: "outerHTML" });
    }, 150);
  }

  // Where Entrée goes from a field of a line.
  function nextStop(row, input) {
    var rows = Array.prototype.slice.call(lines().querySelectorAll("tr.line"));
    if (input.classList.contains("in-code")) {
      var option = catalogueOption(input.value);
      if (option) { fillRow(row, option); } else { resolveCode(row); }
      return field(row, "in-qty"); // the label and the price follow (a code unknown everywhere: typed by hand)
    }
    if (input.classList.contains("in-label")) { return field(row, "in-qty"); }
    if (input.classList.contains("in-qty") && field(row, "in-price").value.trim() === "") { return field(row, "in-price"); }
    var following = rows[rows.indexOf(row) + 1];
    return field(following || addRow(), "in-code");
  }

  document.addEventListener("keydown", function (evt) {
    if (evt.key === "F2") {
      var link = document.querySelector('[data-hotkey="F2"]');
      if (link) { evt.preventDefault(); link.click(); }
      return;
    }
    var f = form();
    if (!f || evt.key !== "Enter" || !f.contains(evt.target)) { return; }
    if (evt.ctrlKey || evt.metaKey) {
      evt.preventDefault();
      explicitPreview();
      return;
    }
    var target = evt.target;
    if (target.tagName !== "INPUT" || evt.altKey || evt.shiftKey) { return; } // buttons keep Entrée
    evt.preventDefault(); // never submit the claim by Entrée in a field
    var row = rowOf(target);
    if (!row) { focusField(f.querySelector("tr.line .in-code")); return; }
    if (isBlank(row)) { explicitPreview(); return; }
    focusField(nextStop(row, target));
  });

  document.addEventListener("input", function (evt) {
    var input = evt.target;
    if (!form() || !input.classList) { return; }
    if (input.classList.contains("in-label") || input.classList.contains("in-price")) {
      input.removeAttribute("data-auto");
    }
    if (!input.classList.contains("in-code")) { return; }
    var option = catalogueOption(input.value);
    if (option) {
      var row = rowOf(input);
      fillRow(row, option);
      // A pick in the suggestions list (not typing) moves on to the quantity.
      if (!evt.inputType || evt.inputType === "insertReplacementText") { focusField(field(row, "in-qty")); }
    }
    loadCatalogue(input);
  });

  // Choices made in the decompte itself (submit to the insurer, refill reason) while a preview is
  // on its way: its answer replaces the decompte, so they are put back and previewed again.
  var decompteChoices = {};

  function restoreChoices() {
    var changed = false;
    Object.keys(decompteChoices).forEach(function (id) {
      var input = document.getElementById(id);
      if (!input) { return; }
      if (input.type === "checkbox") {
        if (input.checked !== decompteChoices[id]) { input.checked = decompteChoices[id]; changed = true; }
      } else if (input.value !== decompteChoices[id]) { input.value = decompteChoices[id]; changed = true; }
    });
    decompteChoices = {};
    if (changed) { preview(); }
  }

  document.addEventListener("htmx:configRequest", function (evt) {
    // This preview carries the choices as they are now.
    if (/\/apercu$/.test(evt.detail.path || "")) { decompteChoices = {}; }
  });

  document.addEventListener("change", function (evt) {
    var choice = evt.target;
    if (choice.id && choice.closest && choice.closest("#decompte")) {
      decompteChoices[choice.id] = choice.type === "checkbox" ? choice.checked : choice.value;
    }
    if (evt.target.classList && evt.target.classList.contains("in-generic")) {
      evt.target.setAttribute("data-touched", "");
    }
    // A code left with Tab (or a click elsewhere) is resolved like one left with Entrée.
    if (evt.target.classList && evt.target.classList.contains("in-code") && form()) {
      var row = rowOf(evt.target);
      if (row && !catalogueOption(evt.target.value)) { resolveCode(row); }
    }
  });

  document.addEventListener("click", function (evt) {
    var add = evt.target.closest("[data-add-line]");
    if (add && form()) {
      evt.preventDefault();
      focusField(field(addRow(), "in-code"));
      return;
    }
    var remove = evt.target.closest("[data-remove-line]");
    if (remove && form()) {
      evt.preventDefault();
      removeRow(rowOf(remove));
      return;
    }
    if (evt.target.closest("#preview-btn")) { pendingFocus = true; }
  });

  // One click, one claim: the button is disabled once the form leaves (the server also
  // replays the first answer for the form's idempotency token).
  document.addEventListener("submit", function (evt) {
    var f = evt.target;
    if (f.id !== "claim-form") { return; }
    if (f.hasAttribute("data-sent")) { evt.preventDefault(); return; }
    f.setAttribute("data-sent", "");
    setTimeout(function () {
      var button = document.getElementById("submit-claim");
      if (button) { button.disabled = true; button.textContent = "Enregistrement…"; }
    }, 0);
  });

  // The decompte answers 403/404/422 with its own fragment: show it.
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var target = evt.detail.target;
    if (evt.detail.xhr.status >= 400 && target && target.hasAttribute("data-swap-errors") &&
        evt.detail.serverResponse.indexOf('id="decompte"') !== -1) {
      evt.detail.shouldSwap = true;
      evt.detail.isError = false;
    }
  });

  document.addEventListener("htmx:afterSettle", function (evt) {
    var path = (evt.detail.pathInfo && evt.detail.pathInfo.requestPath) || "";
    if (/\/apercu$/.test(path)) {
      restoreChoices();
      markInvalid();
      if (pendingFocus) {
        pendingFocus = false;
        var submit = document.getElementById("submit-claim");
        var invalid = document.querySelector('#lines [aria-invalid="true"]');
        focusField(invalid || submit);
      }
    } else if (/\/recherche$/.test(path)) {
      var action = document.querySelector("#results [data-primary-action]");
      if (action) { action.focus(); } else { focusField(document.getElementById("q")); }
    }
  });

  // Mark the inputs the decompte reports as wrong.
  function markInvalid() {
    var body = lines();
    if (!body) { return; }
    body.querySelectorAll('[aria-invalid="true"]').forEach(function (input) { input.removeAttribute("aria-invalid"); });
    document.querySelectorAll("#decompte [data-uid][data-field]").forEach(function (item) {
      var input = body.querySelector('[name="lines-' + item.getAttribute("data-uid") + "-" + item.getAttribute("data-field") + '"]');
      if (input) { input.setAttribute("aria-invalid", "true"); }
    });
  }
})();
