// The verification figures' charts (console/verification_stats.html): each .chart[data-chart]
// holds its data as JSON ({x: [unix seconds], x_label, unit, series: [{label, values, stroke}]},
// null for a period without a figure: a gap) and is drawn with uPlot (vendor/uplot), as wide as
// its box, again when the window is resized. No inline script (the CSP). The sentence under
// each chart and the table below them say the same in words.
(function () {
  "use strict";
  var charts = [];

  function height() {
    return window.innerWidth < 600 ? 180 : 220;
  }

  function axisValues(unit) {
    return function (plot, ticks) {
      return ticks.map(function (tick) {
        return unit === "%" ? tick + "%" : String(tick);
      });
    };
  }

  // From zero up: a rate up to 100 %, a count or a time up to its highest (at least 1).
  function yRange(unit) {
    return function (plot, min, max) {
      return [0, unit === "%" ? 100 : Math.max(1, Math.ceil(max || 0))];
    };
  }

  // Counts (no unit) get whole-number ticks: half a proof is no figure.
  function axis(unit) {
    var options = { size: 50, values: axisValues(unit) };
    if (!unit) {
      options.incrs = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];
    }
    return options;
  }

  function draw(box) {
    var data = JSON.parse(box.getAttribute("data-chart"));
    var options = {
      width: Math.max(box.clientWidth, 200),
      height: height(),
      legend: { show: true },
      cursor: { show: true, points: { show: false } },
      scales: { x: { time: true }, y: { range: yRange(data.unit) } },
      axes: [{}, axis(data.unit)],
      series: [{ label: data.x_label || "" }].concat(data.series.map(function (s) {
        return { label: s.label, stroke: s.stroke, width: 2, spanGaps: false,
                 points: { show: data.x.length < 40 } };
      }))
    };
    var rows = [data.x].concat(data.series.map(function (s) { return s.values; }));
    box.textContent = "";
    charts.push({ box: box, plot: new uPlot(options, rows, box) });
    box.setAttribute("data-drawn", "true");
  }

  function resize() {
    charts.forEach(function (chart) {
      chart.plot.setSize({ width: Math.max(chart.box.clientWidth, 200), height: height() });
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
