// otelkit demo report: draws the charts of the JSON in <script id="otelkit-data"> as inline SVG.
// No network, no libraries. Every chart has axes with values, one element per data point
// (a <circle> or <rect> with data-* attributes and a <title>), and says when a series is empty.
"use strict";
(function () {
  var NS = "http://www.w3.org/2000/svg";
  var COLORS = { otelkit: "#1f77b4", stock: "#d62728", fastotel: "#2ca02c" };
  var EXTRA = ["#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#ff7f0e"];
  var W = 680, H = 280, M = { l: 62, r: 16, t: 14, b: 44 };

  function el(name, attrs, parent, text) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function num(v, digits) {
    if (v === null || v === undefined) return "-";
    if (digits !== undefined) return v.toFixed(digits);
    var a = Math.abs(v);
    return a >= 100 ? v.toFixed(0) : a >= 1 ? v.toFixed(2) : a === 0 ? "0" : v.toPrecision(3);
  }
  function color(name, i) {
    var mode = name.split(" ")[0].replace(":", "");
    return COLORS[mode] || EXTRA[i % EXTRA.length];
  }
  function figure(id, title) {
    var fig = document.getElementById(id);
    fig.appendChild(document.createElement("h2")).textContent = title;
    var svg = el("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, "data-chart": id });
    fig.appendChild(svg);
    var legend = document.createElement("ul");
    legend.className = "legend";
    fig.appendChild(legend);
    return { fig: fig, svg: svg, legend: legend };
  }
  function note(f, cls, text) {
    var li = document.createElement("li");
    li.className = cls;
    li.textContent = text;
    f.legend.appendChild(li);
    return li;
  }
  function ticks(hi, n) {  // multiples of a round step from 0 to at least hi, about n of them
    var step = nice(hi / n), out = [];
    var k = Math.max(1, Math.ceil(hi / step - 1e-9));
    for (var i = 0; i <= k; i++) out.push(+(step * i).toPrecision(12));
    return out;
  }
  function nice(v) {  // the smallest 1, 2, 2.5 or 5 x 10^k at or above v
    if (!(v > 0)) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v))), m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10) * p;
  }
  function axes(f, x0, x1, y0, y1, xlabel, ylabel) {
    var xt = ticks(x1, 5), yt = ticks(y1, 4);
    x1 = xt[xt.length - 1];
    y1 = yt[yt.length - 1];
    var sx = function (x) { return M.l + (x - x0) / (x1 - x0 || 1) * (W - M.l - M.r); };
    var sy = function (y) { return H - M.b - (y - y0) / (y1 - y0 || 1) * (H - M.t - M.b); };
    var g = el("g", { "class": "axes" }, f.svg);
    el("line", { x1: M.l, y1: H - M.b, x2: W - M.r, y2: H - M.b, stroke: "#333" }, g);
    el("line", { x1: M.l, y1: M.t, x2: M.l, y2: H - M.b, stroke: "#333" }, g);
    if (xlabel !== null) {
      xt.forEach(function (x) {
        el("text", { x: sx(x), y: H - M.b + 16, "text-anchor": "middle", "class": "tick x" }, g, num(x));
      });
    }
    yt.forEach(function (y) {
      el("line", { x1: M.l, y1: sy(y), x2: W - M.r, y2: sy(y), stroke: "#eee" }, g);
      el("text", { x: M.l - 6, y: sy(y) + 4, "text-anchor": "end", "class": "tick y" }, g, num(y));
    });
    if (xlabel) el("text", { x: (M.l + W - M.r) / 2, y: H - 6, "text-anchor": "middle", "class": "label" }, g, xlabel);
    el("text", { x: 14, y: (M.t + H - M.b) / 2, transform: "rotate(-90 14 " + (M.t + H - M.b) / 2 + ")",
                 "text-anchor": "middle", "class": "label" }, g, ylabel);
    return { sx: sx, sy: sy };
  }
  function emptyText(f, text) {
    el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", "class": "empty" }, f.svg, text);
  }

  // spec: {id, title, xlabel, ylabel, ymax, series: [{name, points: [[x, y]], empty}], refs: [{name, y}]}
  function lineChart(spec) {
    var f = figure(spec.id, spec.title);
    var pts = [].concat.apply([], spec.series.map(function (s) { return s.points; }));
    var refs = spec.refs || [];
    var xs = pts.map(function (p) { return p[0]; });
    var ys = pts.map(function (p) { return p[1]; }).concat(refs.map(function (r) { return r.y; }));
    var x1 = xs.length ? Math.max.apply(null, xs) : 1;
    var y1 = spec.ymax || (ys.length ? Math.max.apply(null, ys) * 1.1 : 1) || 1;
    var s = axes(f, 0, x1, 0, y1, spec.xlabel, spec.ylabel);
    if (!pts.length) emptyText(f, "no data: every series is empty (see below)");
    refs.forEach(function (r) {
      el("line", { x1: M.l, x2: W - M.r, y1: s.sy(r.y), y2: s.sy(r.y), stroke: "#555", "stroke-dasharray": "6 4",
                   "class": "ref", "data-ref": r.name, "data-value": r.y }, f.svg);
      el("text", { x: M.l + 6, y: s.sy(r.y) - 5, "text-anchor": "start", "class": "ref-label" }, f.svg, r.name + " " + num(r.y));
    });
    spec.series.forEach(function (ser, i) {
      var c = spec.byIndex ? EXTRA[i % EXTRA.length] : color(ser.name, i);
      if (!ser.points.length) {
        note(f, "series empty", ser.name + ": no data (" + (ser.empty || "not reported") + ")").setAttribute("data-series", ser.name);
        return;
      }
      var d = ser.points.map(function (p, j) { return (j ? "L" : "M") + s.sx(p[0]).toFixed(1) + " " + s.sy(p[1]).toFixed(1); }).join(" ");
      var path = el("path", { d: d, fill: "none", stroke: c, "stroke-width": 2, "class": "series",
                              "data-series": ser.name, "data-points": ser.points.length }, f.svg);
      if (/ p99$/.test(ser.name)) path.setAttribute("stroke-dasharray", "5 3");
      ser.points.forEach(function (p) {
        var dot = el("circle", { cx: s.sx(p[0]), cy: s.sy(p[1]), r: 3, fill: c, "class": "point",
                                 "data-series": ser.name, "data-x": p[0], "data-y": p[1] }, f.svg);
        el("title", {}, dot, ser.name + ": " + num(p[1]) + " at " + num(p[0]) + " s");
      });
      var last = ser.points[ser.points.length - 1][1];
      var li = note(f, "series", ser.name + ": " + ser.points.length + " points, last " + num(last));
      li.setAttribute("data-series", ser.name);
      li.style.color = c;
    });
  }

  // spec: {id, title, ylabel, digits, bars: [{label, value, low, high, rounds}], notes: [text]}
  function barChart(spec) {
    var f = figure(spec.id, spec.title);
    var bars = spec.bars;
    var vals = [];
    bars.forEach(function (b) { vals.push(b.value || 0, b.high || 0); });
    var y1 = (vals.length ? Math.max.apply(null, vals) : 0) * 1.15 || 1;
    var s = axes(f, 0, 1, 0, y1, null, spec.ylabel);
    var slot = (W - M.l - M.r) / Math.max(1, bars.length);
    if (!bars.length) emptyText(f, spec.empty || "no data");
    bars.forEach(function (b, i) {
      var cx = M.l + slot * (i + 0.5), bw = Math.min(80, slot * 0.6), c = color(b.label, i);
      el("text", { x: cx, y: H - M.b + 16, "text-anchor": "middle", "class": "tick x bar-label" }, f.svg, b.label);
      if (b.value === null || b.value === undefined) {
        el("text", { x: cx, y: H - M.b - 10, "text-anchor": "middle", "class": "empty" }, f.svg, "not measured");
        note(f, "series empty", b.label + ": not measured").setAttribute("data-series", b.label);
        return;
      }
      var r = el("rect", { x: cx - bw / 2, y: s.sy(b.value), width: bw, height: H - M.b - s.sy(b.value), fill: c,
                           "class": "bar", "data-label": b.label, "data-value": b.value }, f.svg);
      el("title", {}, r, b.label + ": " + num(b.value, spec.digits));
      el("text", { x: cx, y: s.sy(b.value) - 6, "text-anchor": "middle", "class": "bar-value", "data-label": b.label },
         f.svg, num(b.value, spec.digits));
      if (b.low !== null && b.low !== undefined && b.high !== b.low) {
        el("line", { x1: cx, x2: cx, y1: s.sy(b.low), y2: s.sy(b.high), stroke: "#000", "class": "range",
                     "data-label": b.label }, f.svg);
      }
      (b.rounds || []).forEach(function (v) {
        if (v === null) return;
        el("circle", { cx: cx + bw / 2 + 8, cy: s.sy(v), r: 3, fill: "#000", "class": "round", "data-label": b.label,
                       "data-value": v }, f.svg);
      });
      var text = b.label + ": " + num(b.value, spec.digits);
      if (b.rounds && b.rounds.length > 1) text += " (median of " + b.rounds.length + " rounds, range " +
        num(b.low, spec.digits) + "-" + num(b.high, spec.digits) + ")";
      note(f, "series", text).setAttribute("data-series", b.label);
    });
    (spec.notes || []).forEach(function (t) { note(f, "note", t); });
  }

  var data = JSON.parse(document.getElementById("otelkit-data").textContent);
  data.lines.forEach(lineChart);
  data.bars.forEach(barChart);
  document.body.setAttribute("data-rendered", "true");
})();
