// The dashboard's charts (console/dashboard.html): each .chart[data-chart] holds its data as
// JSON ({x: [unix seconds], x_label, series: [{label, values, stroke}]}) and is drawn with uPlot
// (vendor/uplot), as wide as its box, again when the window is resized. No inline script.
(function () {
  "use strict";
  var charts = [];

  function draw(box) {
    var data = JSON.parse(box.getAttribute("data-chart"));
    var width = Math.max(box.clientWidth, 200);
    var options = {
      width: width,
      height: 220,
      legend: { show: true },
      cursor: { show: true, points: { show: false } },
      scales: { x: { time: true } },
      axes: [{}, { size: 60 }],
      series: [{ label: data.x_label || "" }].concat(data.series.map(function (s) {
        return { label: s.label, stroke: s.stroke, width: 2, points: { show: data.x.length < 40 } };
      }))
    };
    var rows = [data.x].concat(data.series.map(function (s) { return s.values; }));
    box.textContent = "";
    charts.push({ box: box, plot: new uPlot(options, rows, box) });
  }

  function resize() {
    charts.forEach(function (chart) {
      chart.plot.setSize({ width: Math.max(chart.box.clientWidth, 200), height: 220 });
    });
  }

  function ready() {
    if (typeof uPlot === "undefined") {
      return;
    }
    document.querySelectorAll(".chart[data-chart]").forEach(draw);
    var pending = null;
    window.addEventListener("resize", function () {
      clearTimeout(pending);
      pending = setTimeout(resize, 150);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
