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

  // After a verdict (accept, reject, needs rewrite) the server marks its answer with
  // data-advance, and we move on to the next record once that answer is in place.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (!event.target || event.target.id !== "detail") { return; }
    // htmx puts focus back on a field with the same id; keys should drive the app instead.
    var active = document.activeElement;
    if (active && event.target.contains(active)) { active.blur(); }
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    if (!event.target || event.target.id !== "detail") { return; }
    var marked = event.target.querySelector("article[data-advance]");
    if (marked) { marked.removeAttribute("data-advance"); move(1); }
  });
})();
