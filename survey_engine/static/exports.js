// The exports page while exports run: every 2 s, asks how far each one is, moves its
// bar and row count, and reloads the page once one has finished (its download link,
// or its error, then shows). Without this script the page has a link to refresh it.
(function () {
  "use strict";
  var table = document.getElementById("exports");
  var rows = table ? table.querySelectorAll("tr[data-progress]") : [];
  if (!rows.length) return;

  function update(row, p) {
    var bar = row.querySelector("progress");
    if (bar) { bar.value = p.percent; bar.textContent = p.percent + "%"; }
    if (p.status === "running") {
      row.querySelector(".export-rows").textContent = p.rows_done + " / " + p.rows_total;
      row.querySelector(".export-status").textContent = table.dataset.running;
    }
    return p.status !== "queued" && p.status !== "running";
  }

  function poll() {
    Promise.all(Array.prototype.map.call(rows, function (row) {
      return fetch(row.dataset.progress, {credentials: "same-origin"})
        .then(function (reply) {
          if (reply.status === 404) return true;  // gone (its survey deleted): reload
          return reply.ok ? reply.json().then(function (p) { return update(row, p); }) : false;
        })
        .catch(function () { return false; });  // offline for a moment: ask again
    })).then(function (finished) {
      if (finished.indexOf(true) >= 0) window.location.reload();
      else window.setTimeout(poll, 2000);
    });
  }
  window.setTimeout(poll, 1000);
})();
