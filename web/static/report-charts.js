// Draws the reports page's charts with Chart.js (global Chart) from the JSON the page embeds.
// Progressive: without JavaScript the same figures are in the tables under the charts.
(function () {
  "use strict";
  var source = document.getElementById("report-chart-data");
  if (!source || typeof window.Chart !== "function") {
    return;
  }
  var data = JSON.parse(source.textContent);
  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (canvas) {
      new window.Chart(canvas, config);
      canvas.dataset.rendered = "true";
    }
  }
  var percentAxis = { y: { min: 0, max: 100 } };
  draw("chart-on-time", {
    type: "bar",
    data: { labels: data.institutions, datasets: [
      { label: data.labels.accept, data: data.on_time.accept, backgroundColor: "#0b4f6c" },
      { label: data.labels.decision, data: data.on_time.decision, backgroundColor: "#027a48" },
      { label: data.labels.disbursement, data: data.on_time.disbursement, backgroundColor: "#b54708" }
    ] },
    options: { animation: false, scales: percentAxis }
  });
  draw("chart-success", {
    type: "bar",
    data: { labels: data.institutions, datasets: [
      { label: data.labels.success, data: data.success, backgroundColor: "#0b4f6c" },
      { type: "line", label: data.labels.target, borderColor: "#b42318", pointRadius: 0,
        data: data.institutions.map(function () { return data.success_target; }) }
    ] },
    options: { animation: false, scales: percentAxis }
  });
  draw("chart-regions", {
    type: "bar",
    data: { labels: data.regions, datasets: [
      { label: data.labels.amount, data: data.region_amounts, backgroundColor: "#027a48" }
    ] },
    options: { animation: false, scales: { y: { beginAtZero: true } } }
  });
})();
