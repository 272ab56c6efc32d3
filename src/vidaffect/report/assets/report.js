/* vidaffect report: draws the per-person charts as inline SVG and links them to the video player.
   Data: the JSON in <script id="vidaffect-data">.  No external library, no network.
   Times are the analysis times (seconds of the source video); the player's own time is shifted by
   DATA.video_offset when it shows an embedded proxy of the analysed range only. */
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("vidaffect-data").textContent);
  var SVGNS = "http://www.w3.org/2000/svg";
  var M = { l: 64, r: 10, t: 6, b: 18 };
  var T0 = DATA.range ? DATA.range[0] : 0;
  var T1 = Math.max(DATA.range ? DATA.range[1] : (DATA.t_end || 0), T0 + 1e-3);
  var video = document.getElementById("player");
  var offset = DATA.video_offset || 0;      /* analysis time = player time + offset */
  var cueOffset = offset;                    /* the offset the subtitle cues were written for */
  var cursors = [];      // {line, width}
  var readouts = [];     // functions(t)
  var current = T0;

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
  function signed(v) { return (v >= 0 ? "+" : "\u2212") + Math.abs(v).toFixed(2); }
  function niceStep(span, target) {
    var raw = span / Math.max(target, 1), p = Math.pow(10, Math.floor(Math.log10(raw))), steps = [1, 2, 5, 10];
    for (var i = 0; i < steps.length; i++) { if (steps[i] * p >= raw) { return steps[i] * p; } }
    return 10 * p;
  }
  function clampT(t) { return Math.min(Math.max(t, T0), T1); }
  function xOf(t, w) { return M.l + (w - M.l - M.r) * (t - T0) / (T1 - T0); }
  function tOf(x, w) { return clampT(T0 + (x - M.l) / (w - M.l - M.r) * (T1 - T0)); }

  /* index of the last sample at or before t (-1 when none) */
  function sampleAt(ts, t) {
    var lo = 0, hi = ts.length - 1, ans = -1;
    while (lo <= hi) { var mid = (lo + hi) >> 1; if (ts[mid] <= t + 1e-6) { ans = mid; lo = mid + 1; } else { hi = mid - 1; } }
    return ans;
  }
  /* the segment [start, end, emotion, p] covering t (the later one where two meet), or null */
  function segmentAt(segs, t) {
    var found = null;
    for (var i = 0; i < segs.length; i++) { if (segs[i][0] <= t + 1e-6 && t <= segs[i][1] + 1e-6) { found = segs[i]; } }
    return found;
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
    var step = niceStep(T1 - T0, Math.max(2, Math.floor((w - M.l - M.r) / 70)));
    var first = Math.ceil((T0 - 1e-9) / step) * step;
    for (var t = first; t <= T1 + 1e-9; t += step) {
      var x = xOf(t, w);
      svgEl("line", { x1: x, x2: x, y1: height - M.b, y2: height - M.b + 4, "class": "zero" }, svg);
      text(svg, x, height - 4, (step < 1 ? t.toFixed(1) : Math.round(t)) + (t === first ? " s" : ""), "middle");
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

  function drawVA(svg, w, h, group) {
    var s = group.series, y0 = M.t, y1 = h - M.b;
    function yOf(v) { return y0 + (1 - v) / 2 * (y1 - y0); }
    [-1, -0.5, 0, 0.5, 1].forEach(function (v) {
      svgEl("line", { x1: M.l, x2: w - M.r, y1: yOf(v), y2: yOf(v), "class": v === 0 ? "zero" : "grid" }, svg);
      text(svg, M.l - 4, yOf(v) + 3, (v > 0 ? "+" : "") + v, "end");
    });
    ["valence", "arousal"].forEach(function (name) {
      var vals = s[name], d = "";
      ranges(s, [vals]).forEach(function (r) {
        for (var i = r[0]; i < r[1]; i++) {
          d += (i === r[0] ? "M" : "L") + xOf(s.t[i], w).toFixed(1) + " " + yOf(vals[i]).toFixed(1);
        }
      });
      if (d) {
        var attrs = { d: d, fill: "none", stroke: DATA.colors[name], "stroke-width": 1.6, "class": "series-" + name };
        if (DATA.dash && DATA.dash[name]) { attrs["stroke-dasharray"] = DATA.dash[name]; }
        svgEl("path", attrs, svg);
      }
    });
  }

  function drawEmotions(svg, w, h, group) {
    var s = group.series, y0 = M.t, y1 = h - M.b, classes = DATA.classes.filter(function (c) { return s.probs[c]; });
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

  /* one group's emotion segments as coloured bars between y and y + hh, labelled where wide enough */
  function drawSegments(svg, w, group, y, hh, labels) {
    group.segments.forEach(function (sg) {
      var x0 = xOf(sg[0], w), x1 = Math.max(xOf(sg[1], w), x0 + 1.5);
      var r = svgEl("rect", { x: x0, y: y, width: x1 - x0, height: hh, fill: DATA.colors[sg[2]] || "#999",
        "class": "segment seg-" + sg[2], "data-emotion": sg[2] }, svg);
      var tip = svgEl("title", {}, r);
      tip.textContent = group.label + ": " + sg[2] + " " + fmtTime(sg[0]) + " \u2013 " + fmtTime(sg[1]) +
        " (mean p " + Math.round(sg[3] * 100) + "%)";
      if (labels && x1 - x0 > 7 * sg[2].length + 6) {
        var t = text(svg, (x0 + x1) / 2, y + hh / 2 + 3.5, sg[2], "middle");
        t.setAttribute("class", "seg-label");
      }
    });
  }

  /* next to the player: one lane per person (or face) with its emotion segments: the segments timeline */
  function drawLanes(svg, w, h) {
    var groups = DATA.groups, lane = (h - M.t - M.b) / Math.max(groups.length, 1);
    groups.forEach(function (g, k) {
      var y = M.t + k * lane;
      svgEl("rect", { x: 2, y: y + lane / 2 - 4, width: 8, height: 8, rx: 2, fill: g.color }, svg);
      var label = text(svg, M.l - 4, y + lane / 2 + 3, g.label.length > 10 ? g.label.slice(0, 9) + "\u2026" : g.label, "end");
      var tip = svgEl("title", {}, label);
      tip.textContent = g.label + " (" + g.tracks_text + ")";
      drawSegments(svg, w, g, y + 2, Math.max(lane - 4, 2), false);
    });
  }

  function drawCircumplex(container, group) {
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
        svgEl("circle", { cx: x, cy: y, r: 2.5, fill: DATA.colors[name] || "#666", stroke: "#555", "stroke-width": 0.5 }, svg);
        if (name === "neutral") { return; }
        /* a label next to an already labelled anchor goes on the other side of its point */
        var crowded = placed.some(function (p) { return Math.abs(p[0] - va[0]) < 0.25 && Math.abs(p[1] - va[1]) < 0.12; });
        if (crowded) { right = !right; }
        text(svg, x + (right ? 4 : -4), crowded ? y + 3 : y - 3, name, right ? "start" : "end");
        placed.push(va);
      });
    var s = group.series, d = "";
    ranges(s, [s.valence, s.arousal]).forEach(function (rg) {
      for (var i = rg[0]; i < rg[1]; i++) {
        d += (i === rg[0] ? "M" : "L") + (c + s.valence[i] * r).toFixed(1) + " " + (c - s.arousal[i] * r).toFixed(1);
      }
    });
    if (d) { svgEl("path", { d: d, fill: "none", stroke: group.color, "stroke-opacity": 0.35, "stroke-width": 1 }, svg); }
    var dot = svgEl("circle", { cx: c, cy: c, r: 5, fill: group.color, stroke: "#fff", "stroke-width": 1.5, visibility: "hidden" }, svg);
    return function (i, on) {
      if (on && s.valence[i] !== null && s.arousal[i] !== null) {
        dot.setAttribute("cx", c + s.valence[i] * r);
        dot.setAttribute("cy", c - s.arousal[i] * r);
        dot.setAttribute("visibility", "visible");
      } else { dot.setAttribute("visibility", "hidden"); }
    };
  }

  /* items: [name, colour, dash or undefined for an area swatch] */
  function legend(parent, items, cls) {
    var div = el("div", { "class": "legend" + (cls ? " " + cls : "") }, parent);
    items.forEach(function (it) {
      var span = el("span", {}, div);
      if (it[2] !== undefined) {
        var svg = svgEl("svg", { width: 22, height: 10, "class": "line-swatch" }, span);
        var attrs = { x1: 1, x2: 21, y1: 5, y2: 5, stroke: it[1], "stroke-width": 2 };
        if (it[2]) { attrs["stroke-dasharray"] = it[2]; }
        svgEl("line", attrs, svg);
      } else {
        el("span", { "class": "swatch", style: "background:" + it[1] }, span);
      }
      span.appendChild(document.createTextNode(it[0]));
    });
    return div;
  }
  function classLegend(parent) {
    return legend(parent, DATA.classes.map(function (c) { return [c, DATA.colors[c] || "#999"]; }), "classes");
  }

  /* the values of a group at time t: {on, i, seg, best, bp} */
  function valuesAt(group, t) {
    var s = group.series, i = sampleAt(s.t, t), on = i >= 0 && t - s.t[i] <= DATA.gap_s && s.valence[i] !== null;
    var best = null, bp = -1;
    if (on) {
      DATA.classes.forEach(function (c) { var p = s.probs[c] && s.probs[c][i]; if (p !== null && p !== undefined && p > bp) { bp = p; best = c; } });
    }
    return { on: on, i: i, seg: on ? segmentAt(group.segments, t) : null, best: best, bp: bp };
  }

  function renderGroup(root, group) {
    var card = el("div", { "class": "card group", id: "group-" + group.key, "data-group": group.key }, root);
    var head = el("div", { "class": "face-head" }, card);
    var h3 = el("h3", {}, head);
    el("span", { "class": "swatch", style: "background:" + group.color }, h3);
    h3.appendChild(document.createTextNode(group.label));
    el("span", { "class": "note" }, head).textContent = (group.person ? group.tracks_text + " \u00b7 " : "") +
      fmtTime(group.first) + " \u2013 " + fmtTime(group.last) + " \u00b7 " + group.frames + " frames \u00b7 mostly " +
      (group.dominant || "\u2013");
    var readout = el("span", { "class": "readout" }, head);
    el("span", { "class": "readout-label" }, readout).textContent = "at the cursor: ";
    var readoutText = el("span", { "class": "readout-values" }, readout);

    var body = el("div", { "class": "face-body" }, card);
    var charts = el("div", { "class": "face-charts" }, body);
    el("div", { "class": "chart-title" }, charts).textContent = "emotion segments (filtered dominant emotion)";
    var segBox = el("div", { "class": "chart-box" }, charts);
    legend(charts, [["valence", DATA.colors.valence, DATA.dash ? DATA.dash.valence : ""],
                    ["arousal", DATA.colors.arousal, DATA.dash ? DATA.dash.arousal : ""]], "va");
    var vaBox = el("div", { "class": "chart-box" }, charts);
    classLegend(charts);
    var emoBox = el("div", { "class": "chart-box" }, charts);
    var circ = el("div", { "class": "circumplex" }, body);
    var dot = drawCircumplex(circ, group);

    var tracksBox = el("div", { "class": "tracks" }, card);
    group.tracks.forEach(function (tr) {
      var item = el("div", { "class": "track", id: "track-" + tr.id, "data-face": tr.id }, tracksBox);
      if (group.person) {
        el("div", { "class": "track-head note" }, item).textContent = tr.label + " \u00b7 " + fmtTime(tr.first) +
          " \u2013 " + fmtTime(tr.last) + " \u00b7 " + tr.frames + " frames \u00b7 mostly " + (tr.dominant || "\u2013");
      }
      if (tr.thumbs && tr.thumbs.length) {
        var strip = el("div", { "class": "thumbs" }, item);
        tr.thumbs.forEach(function (th) {
          var img = el("img", { src: th.src, alt: tr.label + " at " + fmtTime(th.t), title: tr.label + " at " + fmtTime(th.t), "data-t": th.t }, strip);
          img.addEventListener("click", function () { seek(th.t); });
        });
      }
    });

    group.redraw = function () {
      segBox.textContent = ""; vaBox.textContent = ""; emoBox.textContent = "";
      makeChart(segBox, 22 + M.t + M.b, "segments-chart", function (svg, w, h) { drawSegments(svg, w, group, M.t, h - M.t - M.b, true); });
      makeChart(vaBox, 120, "va-chart", function (svg, w, h) { drawVA(svg, w, h, group); });
      makeChart(emoBox, 96, "emotion-chart", function (svg, w, h) { drawEmotions(svg, w, h, group); });
    };
    var row = null;
    document.querySelectorAll("#readout tr[data-group]").forEach(function (tr) {
      if (tr.getAttribute("data-group") === group.key) { row = tr; }
    });
    var cells = row ? { seg: row.querySelector(".r-seg"), top: row.querySelector(".r-top"),
      val: row.querySelector(".r-val"), aro: row.querySelector(".r-aro") } : null;
    readouts.push(function (t) {
      var v = valuesAt(group, t), s = group.series;
      if (!v.on) {
        readoutText.textContent = "not on screen";
        if (cells) { cells.seg.textContent = "not on screen"; cells.top.textContent = "\u2013"; cells.val.textContent = "\u2013"; cells.aro.textContent = "\u2013"; }
        if (row) { row.classList.add("absent"); }
        dot(v.i, false);
        return;
      }
      readoutText.textContent = "valence " + signed(s.valence[v.i]) + " \u00b7 arousal " + signed(s.arousal[v.i]) +
        (v.best ? " \u00b7 " + v.best + " " + Math.round(v.bp * 100) + "%" : "") + (v.seg ? " \u00b7 segment " + v.seg[2] : "");
      if (cells) {
        cells.seg.textContent = v.seg ? v.seg[2] : "\u2013";
        cells.top.textContent = v.best ? v.best + " (" + Math.round(v.bp * 100) + "%)" : "\u2013";
        cells.val.textContent = signed(s.valence[v.i]);
        cells.aro.textContent = signed(s.arousal[v.i]);
      }
      if (row) { row.classList.remove("absent"); }
      dot(v.i, true);
    });
  }

  function setCursor(t) {
    current = clampT(t || 0);
    cursors.forEach(function (c) {
      var x = xOf(current, c.width);
      c.line.setAttribute("x1", x); c.line.setAttribute("x2", x);
    });
    readouts.forEach(function (f) { f(current); });
    var now = document.getElementById("now-time");
    if (now) { now.textContent = fmtTime(current); }
  }

  function hasVideo() { return video && video.getAttribute("src"); }
  function seek(t) {
    t = clampT(t);
    if (hasVideo()) { try { video.currentTime = Math.max(t - offset, 0); } catch (e) { /* not seekable yet */ } }
    setCursor(t);
  }
  window.vidaffectSeek = seek;

  function renderAll() {
    cursors = [];
    var lanesBox = document.getElementById("lanes");
    if (lanesBox && DATA.groups.length) {
      lanesBox.textContent = "";
      makeChart(lanesBox, Math.min(18 * DATA.groups.length, 140) + M.t + M.b + 4, "lanes-chart", drawLanes);
    }
    DATA.groups.forEach(function (g) { g.redraw(); });
    setCursor(current);
  }

  var root = document.getElementById("groups");
  DATA.groups.forEach(function (g) { renderGroup(root, g); });
  if (!DATA.groups.length) { el("p", { "class": "card note" }, root).textContent = "No face was found in this video."; }
  var lanesLegend = document.getElementById("lanes-legend");
  if (lanesLegend && DATA.groups.length) { classLegend(lanesLegend); }
  renderAll();

  document.querySelectorAll("tr[data-t]").forEach(function (tr) {
    tr.addEventListener("click", function () { seek(parseFloat(tr.getAttribute("data-t"))); });
  });

  /* the subtitle cues follow the source shown (its time 0 may be another source time) */
  function syncCues() {
    var track = video && video.textTracks && video.textTracks[0];
    if (!track || !track.cues || cueOffset === offset) { return; }
    var delta = cueOffset - offset, cues = Array.prototype.slice.call(track.cues);  /* the live list re-sorts */
    cues.forEach(function (cue) {
      if (delta > 0) { cue.endTime += delta; cue.startTime += delta; } else { cue.startTime += delta; cue.endTime += delta; }
    });
    cueOffset = offset;
  }

  if (video) {
    var playing = false, tol = 0.5 * (DATA.gap_s || 0.1);
    var now = function () { return video.currentTime + offset; };
    /* hold playback to the analysed range */
    var hold = function () {
      var t = now();
      if (t > T1 + tol) { video.pause(); video.currentTime = Math.max(T1 - offset, 0); return true; }
      if (t < T0 - tol) { video.currentTime = Math.max(T0 - offset, 0); return true; }
      return false;
    };
    var tick = function () { if (!hold()) { setCursor(now()); } if (playing) { window.requestAnimationFrame(tick); } };
    video.addEventListener("loadedmetadata", function () { if (now() < T0 - tol) { video.currentTime = Math.max(T0 - offset, 0); } });
    video.addEventListener("timeupdate", function () { if (!hold()) { setCursor(now()); } });
    video.addEventListener("seeked", function () { if (!hold()) { setCursor(now()); } });
    video.addEventListener("play", function () { playing = true; window.requestAnimationFrame(tick); });
    video.addEventListener("pause", function () { playing = false; });
    video.addEventListener("ended", function () { playing = false; });
    var trackEl = video.querySelector("track");
    if (trackEl) { trackEl.addEventListener("load", syncCues); }
    var select = document.getElementById("source-select");
    if (select) {
      var original = { src: video.getAttribute("src"), offset: offset };
      select.addEventListener("change", function () {
        var t = now(), wasPaused = video.paused, opt = select.options[select.selectedIndex];
        var next = select.value === "original" ? original :
          { src: opt.getAttribute("data-src"), offset: parseFloat(opt.getAttribute("data-offset") || "0") };
        offset = next.offset;
        video.src = next.src;
        syncCues();
        video.addEventListener("loadedmetadata", function once() {
          video.removeEventListener("loadedmetadata", once);
          video.currentTime = Math.max(t - offset, 0);
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
    ["lanes", "groups"].forEach(function (id) { var n = document.getElementById(id); if (n) { observer.observe(n); } });
  } else {
    window.addEventListener("resize", scheduleRender);
  }
})();
