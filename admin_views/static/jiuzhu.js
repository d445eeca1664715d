/* Behaviour of the hand-written pages, kept out of the HTML so the Content-Security-Policy can forbid
   inline scripts: data-confirm (ask before submitting), data-print, data-autosubmit, job polling. */
(function () {
  "use strict";
  document.addEventListener("click", function (e) {
    var el = e.target.closest ? e.target.closest("[data-confirm],[data-print]") : null;
    if (!el) { return; }
    if (el.hasAttribute("data-print")) { window.print(); return; }
    if (!window.confirm(el.getAttribute("data-confirm"))) { e.preventDefault(); }
  });
  // flask-admin's menus and "add row" links point at javascript:void(0); under the CSP following such
  // a link is a blocked script, so the no-op is done here instead
  document.addEventListener("click", function (e) {
    var link = e.target.closest ? e.target.closest("a[href^='javascript:']") : null;
    if (link) { e.preventDefault(); }
  }, true);     // capturing: Bootstrap's menus stop the click from bubbling up to the document
  document.addEventListener("change", function (e) {
    if (e.target.hasAttribute && e.target.hasAttribute("data-autosubmit") && e.target.form) { e.target.form.submit(); }
  });

  function pollImport(box) {
    function poll() {
      fetch(box.getAttribute("data-status-url"), {credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (s) {
          if (s.finished) { window.location.reload(); return; }
          var text = document.getElementById("progress-text");
          var bar = document.getElementById("progress-bar");
          if (text) { text.textContent = s.stage + "中… " + s.done + "/" + s.total; }
          if (bar && s.total) { bar.style.width = Math.max(5, Math.round(100 * s.done / s.total)) + "%"; }
          setTimeout(poll, 700);
        })
        .catch(function () { setTimeout(poll, 2000); });
    }
    setTimeout(poll, 500);
  }

  function pollReport(box) {
    (function poll() {
      fetch(box.getAttribute("data-status-url"), {credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (s) { if (s.finished) { location.reload(); } else { setTimeout(poll, 1000); } })
        .catch(function () { setTimeout(poll, 3000); });
    })();
  }

  function charts(board) {
    var colors = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1"];
    new Chart(document.getElementById("chart-types"), {type: "bar",
      data: {labels: board.by_type.map(function (r) { return r[0]; }),
             datasets: [{label: "户数", data: board.by_type.map(function (r) { return r[1]; }), backgroundColor: colors[0]}]},
      options: {plugins: {legend: {display: false}}, animation: false, maintainAspectRatio: false}});
    new Chart(document.getElementById("chart-paying"), {type: "doughnut",
      data: {labels: board.paying.map(function (r) { return r[0]; }),
             datasets: [{data: board.paying.map(function (r) { return r[1]; }), backgroundColor: colors}]},
      options: {animation: false, maintainAspectRatio: false}});
    new Chart(document.getElementById("chart-history"), {type: "line",
      data: {labels: board.history.map(function (r) { return r[0]; }),
             datasets: [{label: "金额（元）", data: board.history.map(function (r) { return r[2]; }), borderColor: colors[2]}]},
      options: {plugins: {legend: {display: false}}, animation: false, maintainAspectRatio: false}});
  }

  function start() {
    var job = document.getElementById("job");
    if (job && job.getAttribute("data-finished") !== "true") { pollImport(job); }
    var report = document.getElementById("report-progress");
    if (report) { pollReport(report); }
    var board = document.getElementById("board-data");
    if (board && window.Chart) { charts(JSON.parse(board.textContent)); }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
