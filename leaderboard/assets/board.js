// Sorting and filtering for the leaderboard tables; no dependencies, works from file://.
(function () {
  "use strict";

  function cellValue(row, index, type) {
    var cell = row.children[index];
    var raw = cell ? (cell.getAttribute("data-value") || cell.textContent.trim()) : "";
    if (type === "num") {
      var n = parseFloat(raw);
      return isNaN(n) ? null : n;
    }
    return raw.toLowerCase();
  }

  function sortBy(table, th) {
    var headers = Array.prototype.slice.call(th.parentNode.children);
    var index = headers.indexOf(th);
    var type = th.getAttribute("data-type") || "text";
    var descending = th.getAttribute("aria-sort") !== "descending";
    if (th.getAttribute("aria-sort") === null && type === "text") { descending = false; }
    headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", descending ? "descending" : "ascending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, index, type), y = cellValue(b, index, type);
      if (x === y) { return 0; }
      if (x === null) { return 1; }   // empty cells last, whatever the direction
      if (y === null) { return -1; }
      return (x < y ? -1 : 1) * (descending ? -1 : 1);
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }

  function applyFilters() {
    var family = document.getElementById("family-filter").value;
    var split = document.getElementById("split-filter").value;
    var role = document.getElementById("role-filter").value;
    document.querySelectorAll("#board .taskcol").forEach(function (el) {
      var show = (!family || el.getAttribute("data-family") === family) &&
                 (!split || el.getAttribute("data-unseen") === split);
      el.classList.toggle("hidden", !show);
    });
    document.querySelectorAll("#board tbody tr").forEach(function (tr) {
      tr.classList.toggle("hidden", !!role && tr.getAttribute("data-role") !== role);
    });
  }

  document.querySelectorAll("table.board").forEach(function (table) {
    table.querySelectorAll("thead th").forEach(function (th) {
      th.addEventListener("click", function (event) {
        if (event.target.tagName === "A") { return; }
        sortBy(table, th);
      });
    });
  });
  ["family-filter", "split-filter", "role-filter"].forEach(function (id) {
    var el = document.getElementById(id);
    if (el) { el.addEventListener("change", applyFilters); }
  });
})();
