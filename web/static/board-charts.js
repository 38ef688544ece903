// Draws the supervisors' weekly charts with Chart.js (global Chart) from the JSON the page embeds.
// Progressive: without JavaScript the same figures are in the table under the charts.
(function () {
  "use strict";
  var source = document.getElementById("chart-data");
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
  draw("chart-breaches", {
    type: "bar",
    data: { labels: data.weeks, datasets: [
      { label: data.labels.breaches, data: data.breaches, backgroundColor: "#b42318" }
    ] },
    options: { animation: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
  });
  draw("chart-rates", {
    type: "line",
    data: { labels: data.weeks, datasets: [
      { label: data.labels.acceptance, data: data.acceptance, borderColor: "#0b4f6c", spanGaps: true },
      { label: data.labels.decision, data: data.decision, borderColor: "#027a48", spanGaps: true }
    ] },
    options: { animation: false, scales: { y: { min: 0, max: 100 } } }
  });
})();
