"""One self-contained HTML report per analysed video.

Everything the page needs is inside the file (CSS, JS, data as JSON,
thumbnails and static plots as base64 images, the emotion subtitles as a
WebVTT data URL); the only external reference is the video itself when it is
linked (a path relative to the report).  The JS (``assets/report.js``) draws
the charts as inline SVG and links them to the player: the cursor follows
playback, clicking a chart seeks the video.

Time axes, the player and the segments cover the analysed range only
(``--start``/``--end``); an embedded proxy holds only that range.  Face tracks
are grouped by person when the identity stage linked them (``person_id``).
"""
from __future__ import annotations

import base64
import html
import json
import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd

from vidaffect.errors import OutputError, VidaffectError
from vidaffect.labels import CIRCUMPLEX_VA
from vidaffect.plotting.colors import (AROUSAL_COLOR, AROUSAL_DASH, VALENCE_COLOR, VALENCE_DASH, emotion_color,
                                       face_color)
from vidaffect.plotting.common import figure_png
from vidaffect.report.people import BOX, Group, TrackScan
from vidaffect.report.series import SeriesBinner, SpanTracker, series_json
from vidaffect.report.timerange import TimeRange, analysed_range
from vidaffect.utils.atomic import atomic_write_bytes

from vidaffect.report import VIDEO_MODES  # noqa: E402  (defined in the light package module)


@dataclass
class ReportOptions:
    """What goes into a report.

    ``video_mode``: ``link`` (relative link to the source), ``proxy`` (embedded low-resolution H.264 copy),
    ``none``, or ``auto`` (link when browsers play the source, else proxy).
    """

    video_mode: str = "auto"
    thumbnails: int = 10          # crops per face track (0: none)
    max_points: int = 800         # display samples per face and series
    max_faces: int = 12           # persons (or lone face tracks) drawn, longest on screen first; the table lists all
    static_plots: bool = True     # circumplex scatter and per-face bars (matplotlib PNG)
    proxy_height: int = 240
    subtitles: bool = True        # the emotion segments as a WebVTT <track> of the player


def read_asset(name: str) -> str:
    """Text of a file in ``report/assets`` (CSS/JS inlined into the pages)."""
    return resources.files("vidaffect.report").joinpath("assets", name).read_text(encoding="utf-8")


def _script_json(data) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


def _relative_href(target: Path, base_dir: Path) -> str:
    try:
        rel = os.path.relpath(target.resolve(), base_dir.resolve())
    except ValueError:  # another drive (Windows)
        return target.resolve().as_uri()
    return quote(Path(rel).as_posix())


def _png_uri(fig) -> str:
    return "data:image/png;base64," + base64.b64encode(figure_png(fig, dpi=80)).decode("ascii")


def _fmt(v, spec: str = ".2f", signed: bool = False) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return format(v, ("+" if signed else "") + spec)


def _dominant(shares: dict[str, float]) -> str | None:
    best = max(shares.items(), key=lambda kv: kv[1], default=(None, 0.0))
    return best[0] if best[1] > 0 else None


@dataclass
class ReportTables:
    """What a report shows, computed in two bounded passes over the results table (:func:`collect`): a table
    on disk is read in batches and never loaded whole; memory is a batch plus what is drawn (series binned
    into ``max_points`` per group, spans, segments, thumbnails and circumplex samples)."""

    scan: TrackScan                    # pass 1: time range, frame step, per-track stats
    groups: list[Group]
    per_face: pd.DataFrame             # Results.summary()
    per_group: pd.DataFrame            # the same per group, indexed by the group's position in ``groups``
    segments: pd.DataFrame             # emotion segments per group (default filter): ``group``, segment columns
    series: dict[str, dict] = field(default_factory=dict)          # group key -> face_series (shown groups)
    group_spans: dict[str, list] = field(default_factory=dict)     # group key -> presence spans
    group_range: dict[str, tuple] = field(default_factory=dict)    # group key -> (first, last) time
    track_spans: dict[int, list] = field(default_factory=dict)     # face id -> presence spans (shown groups)
    thumbs_wanted: dict | None = None  # ThumbnailPicker.wanted
    circumplex: pd.DataFrame | None = None  # the samples the circumplex draws
    circumplex_faces: list[int] = field(default_factory=list)

    @property
    def step(self) -> float:
        return self.scan.times.step

    @property
    def gap(self) -> float:
        return max(2.5 * self.step, 0.1)


class _GroupSeries:
    """One drawn group's rows merged per time (the mean over its tracks seen then), binned for display as
    they come, and its presence spans."""

    def __init__(self, t_min: float, t_max: float, width: int, max_points: int, gap: float) -> None:
        from vidaffect.results.segments import TimeCarry

        self.carry = TimeCarry()
        self.binner = SeriesBinner(t_min, t_max, width, max_points)
        self.spans = SpanTracker(gap)

    def push(self, t, cols) -> None:
        self._add(*self.carry.push(t, cols))

    def _add(self, t, cols) -> None:
        from vidaffect.results.segments import mean_per_time

        if len(t):
            t, cols = mean_per_time(t, cols)
            self.binner.add(t, np.column_stack(cols))
            self.spans.add(t)

    def finish(self) -> None:
        rest = self.carry.flush()
        if rest is not None:
            self._add(*rest)


def collect(results, options: "ReportOptions | None" = None, scan: TrackScan | None = None,
            groups: list[Group] | None = None, thumbnails: dict[int, int] | None = None) -> ReportTables:
    """Everything the report draws of ``results``: pass 1 (:class:`TrackScan`, unless given) and one more pass
    over the columns drawn.  ``thumbnails``: crops wanted per face id (their rows are picked on the way)."""
    from vidaffect.plotting.va import CIRCUMPLEX_FACES, CircumplexSampler
    from vidaffect.report.thumbnails import ThumbnailPicker
    from vidaffect.results.accumulators import SummaryAccumulator
    from vidaffect.results.segments import SEGMENT_COLUMNS, SegmentBuilder, split_positions

    options = options or ReportOptions()
    scan = scan or TrackScan.of(results)
    groups = scan.groups() if groups is None else groups
    classes = list(results.classes)
    header = results.columns
    present = [c for c in classes if c in header]
    step, gap = scan.times.step, max(2.5 * scan.times.step, 0.1)
    damaged = results.metadata.get("damaged_spans")
    group_of = {fid: i for i, g in enumerate(groups) for fid in g.tracks}
    key_of = {fid: g.key for g in groups for fid in g.tracks}
    per_face_acc = SummaryAccumulator(classes, "face", damaged)
    per_group_acc = SummaryAccumulator(classes, "person", damaged)
    segments = None
    if groups and scan.face_rows and present:
        segments = SegmentBuilder(present, "_group", step)
    drawn = {}
    value_cols = ["valence", "arousal", *present]
    for g in groups[: options.max_faces]:
        first = min(scan.tracks[f].first for f in g.tracks)
        last = max(scan.tracks[f].last for f in g.tracks)
        drawn[g.key] = (g, _GroupSeries(first, last, len(value_cols), options.max_points, gap), (first, last))
    track_spans = {fid: SpanTracker(gap) for g, _, _ in drawn.values() for fid in g.tracks}
    picker = ThumbnailPicker({f: st.boxes for f, st in scan.tracks.items()}, thumbnails) if thumbnails else None
    # the circumplex's faces: the longest on screen (rows), ties by face id, as plotting.common.face_rows
    circ_faces = sorted(scan.tracks, key=lambda f: -scan.tracks[f].rows)[:CIRCUMPLEX_FACES]
    sampler = CircumplexSampler({f: scan.tracks[f].va for f in circ_faces}) if options.static_plots else None
    columns = ["frame", "time_s", "face_id", "person_id", "person_name", "emotion", "valence", "arousal", *present]
    if picker is not None:
        columns += BOX
    # without faces there is nothing to draw (and the table may lack the value columns): no second pass
    for b in results.iter_batches(columns) if scan.face_rows else ():
        if b.empty:
            continue
        per_face_acc.update(b)
        fid = b["face_id"].to_numpy()
        t = b["time_s"].to_numpy(dtype=np.float64)
        fids = pd.Series(fid)
        group_rows = pd.DataFrame({"time_s": t, "face_id": fid,
                                   "person_id": fids.map(group_of).fillna(-1).astype(np.int64).to_numpy()})
        for c in ("emotion", "valence", "arousal"):
            if c in b.columns:
                group_rows[c] = b[c].to_numpy()
        per_group_acc.update(group_rows)
        if segments is not None:
            segments.update(b.assign(_group=fids.map(key_of).to_numpy(dtype=object)))
        values = None  # the drawn columns as float64, converted once per batch (when a drawn group has rows)
        for g, series, _ in drawn.values():
            rows = np.flatnonzero(np.isin(fid, g.tracks))
            if len(rows):
                if values is None:
                    values = [b[c].to_numpy(dtype=np.float64) for c in value_cols]
                series.push(t[rows], [v[rows] for v in values])
        for f, pos in split_positions(fid).items():
            if int(f) in track_spans:  # (face id -1, the rows without a face, is no track)
                track_spans[int(f)].add(t[pos])
        if picker is not None:
            picker.update(b)
        if sampler is not None:
            sampler.update(b)
    if segments is not None:
        seg = segments.result()
        params = seg.attrs.get("segment_params")
        seg = seg.rename(columns={"_group": "group"})
        seg.attrs["segment_params"] = params
    else:
        seg = pd.DataFrame(columns=["group"] + SEGMENT_COLUMNS)
    out = ReportTables(scan, groups, per_face_acc.result(), per_group_acc.result().set_index("person_id"), seg,
                       thumbs_wanted=picker.wanted if picker is not None else None,
                       circumplex=sampler.frame() if sampler is not None else None, circumplex_faces=circ_faces)
    for key, (g, series, span) in drawn.items():
        series.finish()
        tb, vb, bin_w = series.binner.result()
        out.series[key] = series_json(tb, vb, present, gap, bin_w)
        out.group_spans[key] = series.spans.result()
        out.group_range[key] = span
    out.track_spans = {f: sp.result() for f, sp in track_spans.items()}
    return out


def _summary_row(r, classes: list[str]) -> dict:
    return {"first_s": float(r["first_s"]), "last_s": float(r["last_s"]), "on_screen_s": float(r["on_screen_s"]),
            "frames": int(r["frames"]), "mean_valence": float(r["mean_valence"]),
            "mean_arousal": float(r["mean_arousal"]),
            "shares": {c: float(r.get(f"share_{c}", 0.0) or 0.0) for c in classes}}


def group_summary(results, c: ReportTables) -> list[dict]:
    """Per group of ``c`` (person or lone track): the summary row of all its tracks, and one row per track."""
    per_face = c.per_face.set_index("face_id") if c.scan.tracks else pd.DataFrame()
    out = []
    for i, g in enumerate(c.groups):
        tracks = []
        for fid in g.tracks:
            r = per_face.loc[fid]
            tracks.append({"face_id": fid, **_summary_row(r, results.classes),
                           "dominant": r["dominant_emotion"] if isinstance(r["dominant_emotion"], str) else None})
        row = _summary_row(c.per_group.loc[i], results.classes)
        out.append({"group": g, **row, "dominant": _dominant(row["shares"]), "tracks": tracks})
    return out


def _shares_cell(shares: dict[str, float]) -> str:
    ranked = sorted(((s, c) for c, s in shares.items()), reverse=True)
    bar = "".join(f"<span style='width:{100 * s:.1f}%;background:{emotion_color(c)}' title='{c} "
                  f"{100 * s:.0f}%'></span>" for s, c in ranked if s > 0)
    top = ", ".join(f"{c} {100 * s:.0f}%" for s, c in ranked[:3] if s > 0)
    return f"<td><span class='bar'>{bar}</span> {html.escape(top)}</td>"


def summary_table(rows: list[dict], colors: dict[str, str]) -> str:
    """The summary as an HTML table: one row per person (or lone face track) and, under a person seen as
    several tracks, one indented row per track.  Clicking a row seeks to the first appearance."""
    head = ["person / face", "tracks", "first", "last", "on screen (s)", "frames", "dominant", "mean valence",
            "mean arousal", "emotion shares"]
    num = {"first", "last", "on screen (s)", "frames", "mean valence", "mean arousal"}
    out = ["<table id='summary-table'><thead><tr>"]
    out += [f"<th class='{'num' if h in num else ''}'>{html.escape(h)}</th>" for h in head]
    out.append("</tr></thead><tbody>")

    def cells(r: dict) -> str:
        return "".join([
            f"<td class='num'>{_fmt(r['first_s'])}</td>", f"<td class='num'>{_fmt(r['last_s'])}</td>",
            f"<td class='num'>{_fmt(r['on_screen_s'])}</td>", f"<td class='num'>{r['frames']}</td>",
            f"<td>{html.escape(str(r['dominant'] or '–'))}</td>",
            f"<td class='num'>{_fmt(r['mean_valence'], signed=True)}</td>",
            f"<td class='num'>{_fmt(r['mean_arousal'], signed=True)}</td>", _shares_cell(r["shares"])])

    for r in sorted(rows, key=lambda r: r["first_s"]):
        g: Group = r["group"]
        color = colors.get(g.key, "#999")
        out.append(f"<tr class='seek group' data-group='{html.escape(g.key, quote=True)}' data-t='{r['first_s']:.3f}'>"
                   f"<td><span class='swatch' style='background:{color}'></span>{html.escape(g.label)}</td>"
                   f"<td>{html.escape(g.tracks_text)}</td>{cells(r)}</tr>")
        if len(r["tracks"]) > 1:
            for t in r["tracks"]:
                out.append(f"<tr class='seek track' data-group='{html.escape(g.key, quote=True)}' "
                           f"data-t='{t['first_s']:.3f}'><td class='sub'>↳ face {t['face_id']}</td><td></td>"
                           f"{cells(t)}</tr>")
    out.append("</tbody></table>")
    if not rows:
        out.append("<p class='note'>No face was found.</p>")
    return "".join(out)


def _video_source(video: Path | None, out_dir: Path, mode: str, proxy_height: int,
                  trange: TimeRange) -> tuple[str | None, str, float]:
    """(src for the <video> element or None, a note for the reader, the source time of the src's time 0)."""
    if mode not in VIDEO_MODES:
        raise VidaffectError(f"unknown report video mode '{mode}'; choose from {', '.join(VIDEO_MODES)}")
    if mode == "none":
        return None, "The video is not included in this report.", 0.0
    if video is None or not video.is_file():
        return (None, f"Source video not found ({html.escape(str(video)) if video else 'unknown path'}): charts only.",
                0.0)
    if mode == "auto":
        from vidaffect.report.proxy import browser_playable

        mode = "link" if browser_playable(video) else "proxy"
    if mode == "link":
        note = f"Linked source: {html.escape(video.name)} (keep it at the same relative place)."
        if trange.partial:
            note += " Playback is held to the analysed range."
        return _relative_href(video, out_dir), note, 0.0
    from vidaffect.report.proxy import proxy_data_uri

    window = (trange.start, trange.end) if trange.partial else None
    uri, offset = proxy_data_uri(video, height=proxy_height, time_range=window)
    part = (f" ({trange.start:.2f}–{trange.end:.2f} s, the analysed range; the player's own clock starts at 0 "
            f"there)" if window else "")
    return uri, f"Embedded {proxy_height}p proxy of {html.escape(video.name)}{part}.", offset


def subtitles_uri(segments: pd.DataFrame, groups: list[Group], offset: float = 0.0) -> str | None:
    """The segments as WebVTT (:mod:`vidaffect.results.exports.subtitles`: one cue per span where the visible
    persons' emotions stay the same) in a ``data:text/vtt`` URL, cue times moved ``offset`` seconds earlier
    (the player's source starts there); None without segments."""
    from vidaffect.results.exports.subtitles import webvtt_text

    if segments.empty:
        return None
    labels = {g.key: g.label for g in groups}
    seg = pd.DataFrame({"person_id": segments["group"], "person_name": segments["group"].map(labels),
                        "start_s": (segments["start_s"].astype(float) - offset).clip(lower=0.0),
                        "end_s": (segments["end_s"].astype(float) - offset).clip(lower=0.0),
                        "emotion": segments["emotion"]})
    text = webvtt_text(seg, note="emotion segments by vidaffect (see docs/exports.md)")
    return "data:text/vtt;base64," + base64.b64encode(text.encode("utf-8")).decode("ascii")


def report_data(results, options: ReportOptions, c: ReportTables, thumbs: dict[int, list[dict]] | None = None,
                trange: TimeRange | None = None, video_offset: float = 0.0) -> dict:
    """The JSON the page's script draws from (``c``: :func:`collect`): classes, colours, the analysed range,
    and one entry per group (person, or face track without a person) with its series, segments and tracks."""
    groups, segments = c.groups, c.segments
    step, gap = c.step, c.gap
    if trange is None:
        trange = analysed_range(results.metadata, *c.scan.times.bounds, step=step)
    per_face = c.per_face.set_index("face_id") if c.scan.tracks else pd.DataFrame()
    colors_by_group = {g.key: face_color(k) for k, g in enumerate(groups)}
    out = []
    for i, g in enumerate(groups[: options.max_faces]):
        r = c.per_group.loc[i]  # per_group is indexed by the group's position in c.groups
        shares = {cl: float(r.get(f"share_{cl}", 0.0) or 0.0) for cl in results.classes}
        seg = segments[segments["group"] == g.key] if len(segments) else segments
        tracks = []
        for fid in g.tracks:
            st = c.scan.tracks[fid]
            dom = per_face.loc[fid, "dominant_emotion"] if fid in per_face.index else None
            tracks.append({"id": fid, "label": f"face {fid}", "first": float(st.first),
                           "last": float(st.last), "frames": int(st.rows),
                           "dominant": dom if isinstance(dom, str) else None,
                           "spans": c.track_spans[fid], "thumbs": (thumbs or {}).get(fid, [])})
        first, last = c.group_range[g.key]
        out.append({
            "key": g.key, "label": g.label, "person": g.person, "tracks_text": g.tracks_text,
            "color": colors_by_group[g.key], "first": float(first),
            "last": float(last), "frames": g.frames, "dominant": _dominant(shares),
            "series": c.series[g.key],
            "spans": c.group_spans[g.key],
            "segments": [[round(float(r.start_s), 3), round(float(r.end_s), 3), str(r.emotion),
                          round(float(r.mean_probability), 3)] for r in seg.itertuples(index=False)],
            "tracks": tracks,
        })
    colors = {cl: emotion_color(cl) for cl in results.classes}
    colors.update(valence=VALENCE_COLOR, arousal=AROUSAL_COLOR)
    return {
        "classes": list(results.classes), "colors": colors, "dash": {"valence": VALENCE_DASH, "arousal": AROUSAL_DASH},
        "range": [trange.start, trange.end], "duration": trange.duration, "partial": trange.partial,
        "t_end": trange.end, "video_offset": round(float(video_offset), 6), "gap_s": round(gap, 3),
        "circumplex": {cl: list(v) for cl, v in CIRCUMPLEX_VA.items() if cl in results.classes},
        "groups": out, "persons": sum(g.person for g in groups), "groups_total": len(groups),
        "face_tracks": len(c.scan.tracks), "segment_params": segments.attrs.get("segment_params"),
    }


def _static_plots(results, c: ReportTables) -> str:
    from vidaffect.plotting import plot_face_summary, plot_va_circumplex

    imgs = [(_png_uri(plot_va_circumplex(c.circumplex, classes=results.classes, faces=c.circumplex_faces)),
             "valence/arousal circumplex"),
            (_png_uri(plot_face_summary(c.per_face, results.classes)), "per-face summary")]
    return "".join(f"<img src='{src}' alt='{alt}'>" for src, alt in imgs)


def _header(results, video: Path | None, trange: TimeRange, groups: list[Group], scan: TrackScan) -> str:
    meta = results.metadata
    v = meta.get("video", {}) or {}
    name = Path(v.get("path") or (video or "video")).name
    model = (meta.get("model") or {}).get("name", "?")
    persons = sum(g.person for g in groups)
    analysed = meta["frames_analysed"] if "frames_analysed" in meta else scan.times.frames
    bits = [f"{_fmt(v.get('duration_s'), '.1f')} s", f"{v.get('width', '?')}×{v.get('height', '?')}",
            f"{_fmt(v.get('fps'), '.2f')} fps", f"{analysed} frames analysed",
            f"{len(scan.tracks)} face track(s)"] + ([f"{persons} person(s)"] if persons else []) + [
            f"model {model}", f"VA {meta.get('va_source', '?')}"]
    return (f"<h1>{html.escape(name)}</h1><p class='meta'>{html.escape(' · '.join(bits))} · "
            f"<b class='range-text{' partial' if trange.partial else ''}'>{html.escape(trange.text())}</b></p>")


def _range_mark(trange: TimeRange) -> str:
    """A bar for the whole video with the analysed part filled, and its text."""
    total = trange.duration or trange.end
    left = 100 * trange.start / total if total > 0 else 0.0
    width = 100 * (trange.end - trange.start) / total if total > 0 else 100.0
    title = html.escape(trange.text(), quote=True)
    return (f"<div id='analysed-range' class='{'partial' if trange.partial else 'whole'}' title='{title}'>"
            f"<span class='range-bar'><span class='range-in' style='left:{left:.2f}%;width:{width:.2f}%'></span>"
            f"</span> <span class='range-label'>{html.escape(trange.text())}</span></div>")


def _readout_table(data: dict) -> str:
    """The live readout beside the player: one labelled row per group, filled by the script."""
    if not data["groups"]:
        return ""
    who = "person / face" if data["persons"] else "face"
    return ("<table id='readout'><caption>At the playback position <span class='note'>(values of the analysed "
            "frame shown; valence and arousal from −1 to +1)</span></caption><thead><tr>"
            f"<th>{who}</th><th title='emotion of the segment (filtered: no flicker)'>segment</th>"
            "<th title='class of highest probability in this frame, and the probability'>top class (p)</th>"
            "<th class='num' title='valence: unpleasant (−1) to pleasant (+1)'>valence</th>"
            "<th class='num' title='arousal: calm (−1) to excited (+1)'>arousal</th></tr></thead><tbody>"
            + "".join(f"<tr data-group='{html.escape(g['key'], quote=True)}'><td><span class='swatch' "
                      f"style='background:{g['color']}'></span>{html.escape(g['label'])}</td>"
                      "<td class='r-seg'>–</td><td class='r-top'>–</td><td class='num r-val'>–</td>"
                      "<td class='num r-aro'>–</td></tr>" for g in data["groups"])
            + "</tbody></table>")


def render_report(results, video: Path | None, out_dir: Path, options: ReportOptions | None = None,
                  annotated: Path | None = None, index_href: str | None = None) -> str:
    """The report page as a string (see :func:`build_report`)."""
    options = options or ReportOptions()
    # two bounded passes over the table (it may live on disk): the scan, then what is drawn
    scan = TrackScan.of(results)
    trange = analysed_range(results.metadata, *scan.times.bounds, step=scan.times.step)
    src, note, offset = _video_source(video, out_dir, options.video_mode, options.proxy_height, trange)
    groups = scan.groups()
    shown = groups[: options.max_faces]
    per_track = None
    if options.thumbnails > 0 and video is not None and video.is_file() and scan.face_rows:
        per_track = {fid: max(2, options.thumbnails // len(g.tracks)) if len(g.tracks) > 1 else options.thumbnails
                     for g in shown for fid in g.tracks}
    collected = collect(results, options, scan, groups, per_track)
    thumbs = None
    if per_track is not None:
        from vidaffect.report.thumbnails import decode_thumbnails

        rotation = int((results.metadata.get("video") or {}).get("rotation") or 0)
        thumbs = decode_thumbnails(video, collected.thumbs_wanted, per_track, rotation=rotation)
    segments = collected.segments
    data = report_data(results, options, collected, thumbs, trange, offset)
    colors = {g.key: face_color(k) for k, g in enumerate(groups)}
    track = ""
    if src is not None and options.subtitles:
        vtt = subtitles_uri(segments, groups, offset)
        if vtt:
            track = (f"<track kind='subtitles' srclang='en' label='emotion segments' default "
                     f"src='{html.escape(vtt, quote=True)}'>")
    if src is not None:
        player = f"<video id='player' controls preload='auto' src='{html.escape(src, quote=True)}'>{track}</video>"
    else:
        player = f"<div class='no-video' id='no-video'>{note}</div>"
    select = ""
    if src is not None and annotated is not None and annotated.is_file():
        # the original's src (maybe megabytes of an embedded proxy) is not repeated here: the script keeps it
        ann = _relative_href(annotated, out_dir)
        select = ("<select id='source-select' title='video shown'><option value='original' selected>original</option>"
                  f"<option value='annotated' data-src='{html.escape(ann, quote=True)}' data-offset='0'>annotated"
                  "</option></select>")
    more = (f"<p class='note'>Showing the {len(shown)} longest on screen of {len(groups)}; the table lists all.</p>"
            if len(groups) > len(shown) else "")
    nav = f"<nav><a href='{html.escape(index_href, quote=True)}'>all videos</a></nav>" if index_href else ""
    plots = (f"<section class='card'><h2>Plots</h2><div class='plots'>{_static_plots(results, collected)}</div>"
             "</section>") if options.static_plots and scan.face_rows else ""
    created = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    title = html.escape(Path((results.metadata.get("video") or {}).get("path") or "video").name)
    heading = "People" if data["persons"] else "Faces"
    p = data["segment_params"] or {}
    seg_note = (f"Segments: the dominant emotion filtered against flicker (minimum {p['min_duration_s']:g} s, switch "
                f"margin {p['switch_margin']:g}, smoothing {p['smoothing_s']:g} s; see docs/exports.md)."
                if p else "")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="vidaffect"><title>{title} · vidaffect report</title>
<style>{read_asset("report.css")}</style></head>
<body>
<header>{nav}{_header(results, video, trange, groups, scan)}</header>
<section id="player-section"><div id="player-wrap">{player}
<div id="player-side"><div id="now"><span class="label">time in the video</span> <span id="now-time">0.00 s</span>{select}</div>
{_range_mark(trange)}
{_readout_table(data)}
<div id="lanes"></div><div id="lanes-legend"></div>
<div class="note">{note} {seg_note} Click a chart, a thumbnail or a table row to jump there.</div></div></div></section>
<section><h2>{heading}</h2>{more}<div id="groups"></div></section>
<section class="card"><h2>Summary</h2>{summary_table(group_summary(results, collected), colors)}</section>
{plots}
<details class="card"><summary>Analysis settings and versions</summary>
<pre>{html.escape(json.dumps(results.metadata, indent=2, default=str))}</pre></details>
<p class="note" style="margin:10px 20px">Made by vidaffect on {created}.</p>
<script type="application/json" id="vidaffect-data">{_script_json(data)}</script>
<script>{read_asset("report.js")}</script>
</body></html>
"""


def build_report(results, out_path: str | Path, video: str | Path | None = None,
                 options: ReportOptions | None = None, annotated: str | Path | None = None,
                 index_href: str | None = None) -> Path:
    """Write the self-contained HTML report of ``results`` to ``out_path`` (atomically) and return the path.

    ``video`` defaults to the analysed file named in the metadata; ``annotated`` (an annotated copy) adds an
    original/annotated switch; ``index_href`` links back to a batch index page.
    """
    out_path = Path(out_path)
    if video is None:
        p = (results.metadata.get("video") or {}).get("path")
        video = Path(p) if p else None
    page = render_report(results, Path(video) if video else None, out_path.parent, options,
                         Path(annotated) if annotated else None, index_href)
    try:
        return atomic_write_bytes(out_path, page.encode("utf-8"))
    except OSError as exc:
        raise OutputError(f"{out_path}: cannot write report ({exc.strerror or exc})") from None
