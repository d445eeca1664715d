/* Dashboard charts: every value axis starts at zero (a line from 45,000 to 52,000 drawn from its
   minimum looked like a tenfold rise). Loaded after chart.umd.js, before the charts are made. */
(function () {
  if (!window.Chart) return;
  window.Chart.defaults.scales.linear.beginAtZero = true;
})();
