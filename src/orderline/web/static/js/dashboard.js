// The dashboard's charts (console/dashboard.html): each .chart[data-chart] holds its data as
// JSON ({x: [unix seconds], x_label, series: [{label, values, stroke}]}) and is drawn with uPlot
// (vendor/uplot), as wide as its box, again when the window is resized. No inline script.
// The figures are live (htmx's SSE extension swaps #dashboard-figures when an order moves):
// the new charts are drawn, and the "as a table" part stays open if it was.
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

  function drawAll(root) {
    if (typeof uPlot === "undefined") {
      return;
    }
    charts = charts.filter(function (chart) { return document.body.contains(chart.box); });
    root.querySelectorAll(".chart[data-chart]").forEach(draw);
  }

  var openParts = [];
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "dashboard-figures") {
      openParts = [];
      event.detail.target.querySelectorAll("details").forEach(function (part, i) {
        openParts[i] = part.open;
      });
    }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "dashboard-figures") {
      return;
    }
    target.querySelectorAll("details").forEach(function (part, i) {
      if (openParts[i]) {
        part.open = true;
      }
    });
    drawAll(target);
  });

  function ready() {
    if (typeof uPlot === "undefined") {
      return;
    }
    drawAll(document);
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
