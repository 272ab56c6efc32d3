/* vidaffect report: draws the per-face charts as inline SVG and links them to the video player.
   Data: the JSON in <script id="vidaffect-data">.  No external library, no network. */
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("vidaffect-data").textContent);
  var SVGNS = "http://www.w3.org/2000/svg";
  var M = { l: 40, r: 10, t: 6, b: 18 };
  var T_END = Math.max(DATA.t_end || 0, 1e-3);
  var video = document.getElementById("player");
  var cursors = [];      // {line, width}
  var readouts = [];     // functions(t)
  var current = 0;

  function el(tag, attrs, parent, ns) {
    var node = ns ? document.createElementNS(SVGNS, tag) : document.createElement(tag);
    for (var k in attrs) { if (Object.prototype.hasOwnProperty.call(attrs, k)) { node.setAttribute(k, attrs[k]); } }
    if (parent) { parent.appendChild(node); }
    return node;
  }
  function svgEl(tag, attrs, parent) { return el(tag, attrs, parent, true); }
  function text(parent, x, y, s, anchor) {
    var t = svgEl("text", { x: x, y: y, "text-anchor": anchor || "start" }, parent);
    t.textContent = s;
    return t;
  }
  function fmtTime(t) {
    var m = Math.floor(t / 60), s = t - 60 * m;
    return (m > 0 ? m + ":" + (s < 10 ? "0" : "") + s.toFixed(2) : s.toFixed(2) + " s");
  }
  function signed(v) { return (v >= 0 ? "+" : "") + v.toFixed(2); }
  function niceStep(span, target) {
    var raw = span / Math.max(target, 1), p = Math.pow(10, Math.floor(Math.log10(raw))), steps = [1, 2, 5, 10];
    for (var i = 0; i < steps.length; i++) { if (steps[i] * p >= raw) { return steps[i] * p; } }
    return 10 * p;
  }
  function xOf(t, w) { return M.l + (w - M.l - M.r) * t / T_END; }
  function tOf(x, w) { return Math.min(Math.max((x - M.l) / (w - M.l - M.r) * T_END, 0), T_END); }

  /* index of the last sample at or before t (-1 when none) */
  function sampleAt(ts, t) {
    var lo = 0, hi = ts.length - 1, ans = -1;
    while (lo <= hi) { var mid = (lo + hi) >> 1; if (ts[mid] <= t + 1e-6) { ans = mid; lo = mid + 1; } else { hi = mid - 1; } }
    return ans;
  }

  /* [[i0, i1), ...] ranges of drawable samples: split at segment starts and at missing values */
  function ranges(series, keys) {
    var out = [], starts = series.starts || [0], n = series.t.length;
    for (var s = 0; s < starts.length; s++) {
      var a = starts[s], b = s + 1 < starts.length ? starts[s + 1] : n, i0 = -1;
      for (var i = a; i <= b; i++) {
        var ok = i < b && keys.every(function (k) { return k[i] !== null && k[i] !== undefined; });
        if (ok && i0 < 0) { i0 = i; }
        if (!ok && i0 >= 0) { out.push([i0, i]); i0 = -1; }
      }
    }
    return out;
  }

  function makeChart(container, height, cls, draw) {
    var w = Math.max(Math.floor(container.clientWidth), 240);
    var svg = svgEl("svg", { "class": "chart " + cls, width: w, height: height, viewBox: "0 0 " + w + " " + height }, container);
    draw(svg, w, height);
    var step = niceStep(T_END, Math.max(2, Math.floor((w - M.l - M.r) / 70)));
    for (var t = 0; t <= T_END + 1e-9; t += step) {
      var x = xOf(t, w);
      svgEl("line", { x1: x, x2: x, y1: height - M.b, y2: height - M.b + 4, "class": "zero" }, svg);
      text(svg, x, height - 4, (step < 1 ? t.toFixed(1) : Math.round(t)) + (t === 0 ? " s" : ""), "middle");
    }
    svgEl("rect", { x: M.l, y: M.t, width: w - M.l - M.r, height: height - M.t - M.b, "class": "frame" }, svg);
    var line = svgEl("line", { "class": "cursor", y1: M.t, y2: height - M.b, x1: xOf(current, w), x2: xOf(current, w) }, svg);
    cursors.push({ line: line, width: w });
    svg.addEventListener("click", function (ev) {
      var r = svg.getBoundingClientRect();
      seek(tOf((ev.clientX - r.left) * w / r.width, w));
    });
    return svg;
  }

  function drawVA(svg, w, h, face) {
    var s = face.series, y0 = M.t, y1 = h - M.b;
    function yOf(v) { return y0 + (1 - v) / 2 * (y1 - y0); }
    [-1, -0.5, 0, 0.5, 1].forEach(function (v) {
      svgEl("line", { x1: M.l, x2: w - M.r, y1: yOf(v), y2: yOf(v), "class": v === 0 ? "zero" : "grid" }, svg);
      text(svg, M.l - 4, yOf(v) + 3, (v > 0 ? "+" : "") + v, "end");
    });
    [["valence", DATA.colors.valence], ["arousal", DATA.colors.arousal]].forEach(function (pair) {
      var vals = s[pair[0]], d = "";
      ranges(s, [vals]).forEach(function (r) {
        for (var i = r[0]; i < r[1]; i++) {
          d += (i === r[0] ? "M" : "L") + xOf(s.t[i], w).toFixed(1) + " " + yOf(vals[i]).toFixed(1);
        }
      });
      if (d) { svgEl("path", { d: d, fill: "none", stroke: pair[1], "stroke-width": 1.6, "class": "series-" + pair[0] }, svg); }
    });
  }

  function drawEmotions(svg, w, h, face) {
    var s = face.series, y0 = M.t, y1 = h - M.b, classes = DATA.classes.filter(function (c) { return s.probs[c]; });
    function yOf(v) { return y1 - v * (y1 - y0); }
    [0, 0.5, 1].forEach(function (v) {
      svgEl("line", { x1: M.l, x2: w - M.r, y1: yOf(v), y2: yOf(v), "class": "grid" }, svg);
      text(svg, M.l - 4, yOf(v) + 3, String(v), "end");
    });
    var cols = classes.map(function (c) { return s.probs[c]; });
    ranges(s, cols).forEach(function (r) {
      var base = [];
      for (var i = r[0]; i < r[1]; i++) { base.push(0); }
      if (r[1] - r[0] === 1) { /* a single sample: draw it as a thin column */
        base = null;
      }
      classes.forEach(function (c, k) {
        var vals = cols[k], top = [], d = "";
        if (base === null) {
          var acc = 0;
          for (var j = 0; j < k; j++) { acc += cols[j][r[0]]; }
          var x = xOf(s.t[r[0]], w);
          svgEl("rect", { x: x - 1, width: 2, y: yOf(acc + vals[r[0]]), height: Math.max(0, yOf(acc) - yOf(acc + vals[r[0]])), fill: DATA.colors[c] || "#999" }, svg);
          return;
        }
        for (var i = r[0]; i < r[1]; i++) { top.push(base[i - r[0]] + vals[i]); }
        for (i = r[0]; i < r[1]; i++) { d += (i === r[0] ? "M" : "L") + xOf(s.t[i], w).toFixed(1) + " " + yOf(top[i - r[0]]).toFixed(1); }
        for (i = r[1] - 1; i >= r[0]; i--) { d += "L" + xOf(s.t[i], w).toFixed(1) + " " + yOf(base[i - r[0]]).toFixed(1); }
        svgEl("path", { d: d + "Z", fill: DATA.colors[c] || "#999", stroke: "none", "class": "area-" + c }, svg);
        base = top;
      });
    });
  }

  function drawLanes(svg, w, h) {
    var faces = DATA.faces, lane = (h - M.t - M.b) / Math.max(faces.length, 1);
    faces.forEach(function (f, k) {
      var y = M.t + k * lane;
      text(svg, M.l - 4, y + lane / 2 + 3, f.short, "end");
      f.spans.forEach(function (sp) {
        var x0 = xOf(sp[0], w), x1 = Math.max(xOf(sp[1], w), x0 + 2);
        svgEl("rect", { x: x0, y: y + 2, width: x1 - x0, height: Math.max(lane - 4, 2), rx: 2, fill: f.color }, svg);
      });
    });
  }

  function drawCircumplex(container, face) {
    var size = 190, c = size / 2, r = 64;
    var svg = svgEl("svg", { width: size, height: size, viewBox: "0 0 " + size + " " + size, "class": "circumplex-chart" }, container);
    svgEl("circle", { cx: c, cy: c, r: r, fill: "#fafbfc", stroke: "#c9d0d6" }, svg);
    svgEl("line", { x1: c - r, x2: c + r, y1: c, y2: c, "class": "zero" }, svg);
    svgEl("line", { x1: c, x2: c, y1: c - r, y2: c + r, "class": "zero" }, svg);
    text(svg, c + r, c - 3, "V+", "end");
    text(svg, c + 3, c - r + 9, "A+");
    var placed = [];
    Object.keys(DATA.circumplex).sort(function (a, b) { return DATA.circumplex[a][0] - DATA.circumplex[b][0]; })
      .forEach(function (name) {
        var va = DATA.circumplex[name], x = c + va[0] * r, y = c - va[1] * r, right = va[0] >= 0;
        svgEl("circle", { cx: x, cy: y, r: 2.5, fill: DATA.colors[name] || "#666" }, svg);
        if (name === "neutral") { return; }
        /* a label next to an already labelled anchor goes on the other side of its point */
        var crowded = placed.some(function (p) { return Math.abs(p[0] - va[0]) < 0.25 && Math.abs(p[1] - va[1]) < 0.12; });
        if (crowded) { right = !right; }
        text(svg, x + (right ? 4 : -4), crowded ? y + 3 : y - 3, name, right ? "start" : "end");
        placed.push(va);
      });
    var s = face.series, d = "";
    ranges(s, [s.valence, s.arousal]).forEach(function (rg) {
      for (var i = rg[0]; i < rg[1]; i++) {
        d += (i === rg[0] ? "M" : "L") + (c + s.valence[i] * r).toFixed(1) + " " + (c - s.arousal[i] * r).toFixed(1);
      }
    });
    if (d) { svgEl("path", { d: d, fill: "none", stroke: face.color, "stroke-opacity": 0.35, "stroke-width": 1 }, svg); }
    var dot = svgEl("circle", { cx: c, cy: c, r: 5, fill: face.color, stroke: "#fff", "stroke-width": 1.5, visibility: "hidden" }, svg);
    return function (i, on) {
      if (on && s.valence[i] !== null && s.arousal[i] !== null) {
        dot.setAttribute("cx", c + s.valence[i] * r);
        dot.setAttribute("cy", c - s.arousal[i] * r);
        dot.setAttribute("visibility", "visible");
      } else { dot.setAttribute("visibility", "hidden"); }
    };
  }

  function legend(parent, items) {
    var div = el("div", { "class": "legend" }, parent);
    items.forEach(function (it) {
      var span = el("span", {}, div);
      el("span", { "class": "swatch", style: "background:" + it[1] }, span);
      span.appendChild(document.createTextNode(it[0]));
    });
  }

  function renderFace(root, face) {
    var card = el("div", { "class": "card face", id: "face-" + face.id, "data-face": face.id }, root);
    var head = el("div", { "class": "face-head" }, card);
    var h3 = el("h3", {}, head);
    el("span", { "class": "swatch", style: "background:" + face.color }, h3);
    h3.appendChild(document.createTextNode(face.label));
    el("span", { "class": "note" }, head).textContent = fmtTime(face.first) + " \u2013 " + fmtTime(face.last) +
      " \u00b7 " + face.frames + " frames \u00b7 mostly " + (face.dominant || "\u2013");
    var readout = el("span", { "class": "readout" }, head);
    if (face.thumbs && face.thumbs.length) {
      var strip = el("div", { "class": "thumbs" }, card);
      face.thumbs.forEach(function (th) {
        var img = el("img", { src: th.src, alt: face.label + " at " + fmtTime(th.t), title: fmtTime(th.t), "data-t": th.t }, strip);
        img.addEventListener("click", function () { seek(th.t); });
      });
    }
    var body = el("div", { "class": "face-body" }, card);
    var charts = el("div", { "class": "face-charts" }, body);
    legend(charts, [["valence", DATA.colors.valence], ["arousal", DATA.colors.arousal]]);
    var vaBox = el("div", { "class": "chart-box" }, charts);
    legend(charts, DATA.classes.map(function (c) { return [c, DATA.colors[c] || "#999"]; }));
    var emoBox = el("div", { "class": "chart-box" }, charts);
    var circ = el("div", { "class": "circumplex" }, body);
    var dot = drawCircumplex(circ, face);
    face.redraw = function () {
      vaBox.textContent = ""; emoBox.textContent = "";
      makeChart(vaBox, 120, "va-chart", function (svg, w, h) { drawVA(svg, w, h, face); });
      makeChart(emoBox, 96, "emotion-chart", function (svg, w, h) { drawEmotions(svg, w, h, face); });
    };
    readouts.push(function (t) {
      var s = face.series, i = sampleAt(s.t, t), on = i >= 0 && t - s.t[i] <= DATA.gap_s;
      if (!on || s.valence[i] === null) { readout.textContent = "not on screen"; dot(i, false); return; }
      var best = null, bp = -1;
      DATA.classes.forEach(function (c) { var p = s.probs[c] && s.probs[c][i]; if (p !== null && p > bp) { bp = p; best = c; } });
      readout.textContent = "valence " + signed(s.valence[i]) + " \u00b7 arousal " + signed(s.arousal[i]) +
        (best ? " \u00b7 " + best + " " + Math.round(bp * 100) + "%" : "");
      dot(i, true);
    });
  }

  function setCursor(t) {
    current = Math.min(Math.max(t || 0, 0), T_END);
    cursors.forEach(function (c) {
      var x = xOf(current, c.width);
      c.line.setAttribute("x1", x); c.line.setAttribute("x2", x);
    });
    readouts.forEach(function (f) { f(current); });
    var now = document.getElementById("now-time");
    if (now) { now.textContent = fmtTime(current); }
  }

  function seek(t) {
    t = Math.min(Math.max(t, 0), T_END);
    if (video && video.getAttribute("src")) { try { video.currentTime = t; } catch (e) { /* not seekable yet */ } }
    setCursor(t);
  }
  window.vidaffectSeek = seek;

  function renderAll() {
    cursors = [];
    var lanesBox = document.getElementById("lanes");
    if (lanesBox && DATA.faces.length) {
      lanesBox.textContent = "";
      makeChart(lanesBox, Math.min(18 * DATA.faces.length, 140) + M.t + M.b + 4, "lanes-chart", drawLanes);
    }
    DATA.faces.forEach(function (f) { f.redraw(); });
    setCursor(current);
  }

  var root = document.getElementById("faces");
  DATA.faces.forEach(function (f) { renderFace(root, f); });
  if (!DATA.faces.length) { el("p", { "class": "card note" }, root).textContent = "No face was found in this video."; }
  renderAll();

  document.querySelectorAll("tr[data-t]").forEach(function (tr) {
    tr.addEventListener("click", function () { seek(parseFloat(tr.getAttribute("data-t"))); });
  });

  if (video) {
    var playing = false;
    var tick = function () { setCursor(video.currentTime); if (playing) { window.requestAnimationFrame(tick); } };
    video.addEventListener("timeupdate", function () { setCursor(video.currentTime); });
    video.addEventListener("seeked", function () { setCursor(video.currentTime); });
    video.addEventListener("play", function () { playing = true; window.requestAnimationFrame(tick); });
    video.addEventListener("pause", function () { playing = false; });
    video.addEventListener("ended", function () { playing = false; });
    var select = document.getElementById("source-select");
    if (select) {
      select.addEventListener("change", function () {
        var t = video.currentTime, wasPaused = video.paused;
        video.src = select.value;
        video.addEventListener("loadedmetadata", function once() {
          video.removeEventListener("loadedmetadata", once);
          video.currentTime = t;
          if (!wasPaused) { video.play(); }
        });
      });
    }
  }

  /* redraw when a chart container changes width (window resize, the video's size known after loading) */
  var resizeTimer = null, widths = {};
  function scheduleRender() {
    if (resizeTimer) { window.clearTimeout(resizeTimer); }
    resizeTimer = window.setTimeout(renderAll, 120);
  }
  if (window.ResizeObserver) {
    var observer = new window.ResizeObserver(function (entries) {
      var changed = entries.some(function (e) {
        var id = e.target.id, w = Math.floor(e.contentRect.width), old = widths[id];
        widths[id] = w;
        return old !== undefined && old !== w;
      });
      if (changed) { scheduleRender(); }
    });
    ["lanes", "faces"].forEach(function (id) { var n = document.getElementById(id); if (n) { observer.observe(n); } });
  } else {
    window.addEventListener("resize", scheduleRender);
  }
})();
