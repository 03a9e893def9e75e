// Keyboard review for curata: j/k move, a accept, r reject, n needs rewrite, e edit, 1-9 label, u undo.
// Served from 'self' (the CSP allows no inline script); talks to the server only through htmx.
(function () {
  "use strict";

  function rows() { return Array.from(document.querySelectorAll("#queue li.row")); }
  function current() { return document.querySelector("#queue li.row.current"); }

  function select(row) {
    if (!row) { return; }
    rows().forEach(function (r) { r.classList.remove("current"); });
    row.classList.add("current");
    row.scrollIntoView({ block: "nearest" });
    row.click();
  }

  function move(step) {
    var all = rows();
    var at = all.indexOf(current());
    var next = all[Math.min(all.length - 1, Math.max(0, at + step))];
    if (next && next !== all[at]) { select(next); }
  }

  function press(selector) {
    var el = document.querySelector(selector);
    if (el) { el.click(); }
  }

  document.addEventListener("click", function (event) {
    var row = event.target.closest && event.target.closest("#queue li.row");
    if (row) {
      rows().forEach(function (r) { r.classList.remove("current"); });
      row.classList.add("current");
    }
  });

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var typing = target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT");
    if (typing) {
      if (event.key === "Escape") { target.blur(); }
      if (target.id === "edit-text" && event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        press("#act-save-edit");
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    var key = event.key;
    if (key === "j") { move(1); }
    else if (key === "k") { move(-1); }
    else if (key === "a") { press("#act-accept"); }
    else if (key === "n") { press("#act-rewrite"); }
    else if (key === "u") { press("#act-undo"); }
    else if (key === "r") {
      var reason = document.getElementById("reason");
      if (reason) { event.preventDefault(); reason.focus(); }
    } else if (key === "e") {
      var box = document.getElementById("edit-box");
      var text = document.getElementById("edit-text");
      if (box && text) { event.preventDefault(); box.open = true; text.focus(); }
    } else if (/^[1-9]$/.test(key)) { press('[data-label-key="' + key + '"]'); }
    else { return; }
  });

  // After a verdict (accept, reject, needs rewrite) move on to the next record, once the
  // response has replaced the detail pane (the submitting form itself is gone by then).
  var advance = false;
  document.addEventListener("submit", function (event) {
    if (event.target.closest && event.target.closest("form.decision")) { advance = true; }
  }, true);
  document.addEventListener("htmx:afterSettle", function (event) {
    if (advance && event.target && event.target.id === "detail") { advance = false; move(1); }
  });
  document.addEventListener("htmx:responseError", function () { advance = false; });
})();
