"""One self-contained HTML report per analysed video.

Everything the page needs is inside the file (CSS, JS, data as JSON,
thumbnails and static plots as base64 images); the only external reference is
the video itself when it is linked (a path relative to the report).  The JS
(``assets/report.js``) draws the charts as inline SVG and links them to the
player: the cursor follows playback, clicking a chart seeks the video.
"""
from __future__ import annotations

import base64
import html
import io
import json
import math
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from vidaffect.errors import OutputError, VidaffectError
from vidaffect.labels import CIRCUMPLEX_VA
from vidaffect.plotting.common import AROUSAL_COLOR, VALENCE_COLOR, face_color, face_rows, frame_step
from vidaffect.plotting.timeline import EMOTION_COLORS
from vidaffect.report.people import person_labels
from vidaffect.report.series import face_series, presence_spans
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
    max_faces: int = 12           # face tracks drawn (longest on screen first); the table lists all
    static_plots: bool = True     # circumplex scatter and per-face bars (matplotlib PNG)
    proxy_height: int = 240


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
    from vidaffect.plotting.common import pyplot

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    pyplot().close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _fmt(v, spec: str = ".2f", signed: bool = False) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return format(v, ("+" if signed else "") + spec)


def summary_table(summary: pd.DataFrame, classes: list[str], persons: dict[int, str] | None = None) -> str:
    """The per-face summary as an HTML table; clicking a row seeks to the face's first appearance.
    ``persons`` ({face_id: name}) adds a person column."""
    has_person = persons is not None
    head = ["face"] + (["person"] if has_person else []) + ["first", "last", "on screen (s)", "frames",
                                                           "dominant", "mean valence", "mean arousal", "emotion shares"]
    num = {"first", "last", "on screen (s)", "frames", "mean valence", "mean arousal"}
    out = ["<table id='summary-table'><thead><tr>"]
    out += [f"<th class='{'num' if h in num else ''}'>{html.escape(h)}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    for r in summary.sort_values("first_s").to_dict("records"):
        shares = sorted(((r.get(f"share_{c}", 0.0) or 0.0, c) for c in classes), reverse=True)
        bar = "".join(f"<span style='width:{100 * s:.1f}%;background:{EMOTION_COLORS.get(c, '#999')}' title='{c} "
                      f"{100 * s:.0f}%'></span>" for s, c in shares if s > 0)
        top = ", ".join(f"{c} {100 * s:.0f}%" for s, c in shares[:3] if s > 0)
        cells = [f"<td><span class='swatch' style='background:{face_color(r['face_id'])}'></span>face {r['face_id']}</td>"]
        if has_person:
            cells.append(f"<td>{html.escape(persons.get(int(r['face_id']), '–'))}</td>")
        cells += [f"<td class='num'>{_fmt(r['first_s'])}</td>", f"<td class='num'>{_fmt(r['last_s'])}</td>",
                  f"<td class='num'>{_fmt(r['on_screen_s'])}</td>", f"<td class='num'>{r['frames']}</td>",
                  f"<td>{html.escape(str(r['dominant_emotion'] or '–'))}</td>",
                  f"<td class='num'>{_fmt(r['mean_valence'], signed=True)}</td>",
                  f"<td class='num'>{_fmt(r['mean_arousal'], signed=True)}</td>",
                  f"<td><span class='bar'>{bar}</span> {html.escape(top)}</td>"]
        out.append(f"<tr class='seek' data-t='{r['first_s']:.3f}'>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    if not len(summary):
        out.append("<p class='note'>No face was found.</p>")
    return "".join(out)


def _video_source(video: Path | None, out_dir: Path, mode: str, proxy_height: int) -> tuple[str | None, str]:
    """(src for the <video> element or None, a note for the reader)."""
    if mode not in VIDEO_MODES:
        raise VidaffectError(f"unknown report video mode '{mode}'; choose from {', '.join(VIDEO_MODES)}")
    if mode == "none":
        return None, "The video is not included in this report."
    if video is None or not video.is_file():
        return None, f"Source video not found ({html.escape(str(video)) if video else 'unknown path'}): charts only."
    if mode == "auto":
        from vidaffect.report.proxy import browser_playable

        mode = "link" if browser_playable(video) else "proxy"
    if mode == "link":
        return _relative_href(video, out_dir), f"Linked source: {html.escape(video.name)} (keep it at the same relative place)."
    from vidaffect.report.proxy import proxy_data_uri

    return proxy_data_uri(video, height=proxy_height), f"Embedded {proxy_height}p proxy of {html.escape(video.name)}."


def report_data(results, options: ReportOptions, thumbs: dict[int, list[dict]] | None = None) -> dict:
    """The JSON the page's script draws from: classes, colours, time range and one entry per face."""
    frames = results.frames
    step = frame_step(frames)
    gap = max(2.5 * step, 0.1)
    video_meta = results.metadata.get("video", {}) or {}
    t_max = float(frames["time_s"].max()) if len(frames) else 0.0
    t_end = max(t_max + step, float(video_meta.get("duration_s") or 0.0), 1e-3)
    summary = results.summary().set_index("face_id") if len(results.faces) else pd.DataFrame()
    persons = person_labels(frames)
    faces = []
    for fid, rows in face_rows(frames, options.max_faces):
        person = persons.get(fid)
        dominant = summary.loc[fid, "dominant_emotion"] if fid in summary.index else None
        faces.append({
            "id": fid, "short": f"face {fid}", "label": f"{person} (face {fid})" if person else f"face {fid}",
            "color": face_color(fid), "first": float(rows["time_s"].min()), "last": float(rows["time_s"].max()),
            "frames": int(len(rows)), "dominant": dominant if isinstance(dominant, str) else None,
            "series": face_series(rows, results.classes, options.max_points, gap),
            "spans": presence_spans(rows["time_s"].to_numpy(), gap),
            "thumbs": (thumbs or {}).get(fid, []),
        })
    colors = {c: EMOTION_COLORS.get(c, "#999999") for c in results.classes}
    colors.update(valence=VALENCE_COLOR, arousal=AROUSAL_COLOR)
    return {
        "classes": list(results.classes), "colors": colors, "t_end": round(t_end, 3), "gap_s": round(gap, 3),
        "circumplex": {c: list(v) for c, v in CIRCUMPLEX_VA.items() if c in results.classes},
        "faces": faces, "face_tracks": len(results.face_ids()),
    }


def _static_plots(results) -> str:
    from vidaffect.plotting import plot_face_summary, plot_va_circumplex

    imgs = [(_png_uri(plot_va_circumplex(results.frames, classes=results.classes)), "valence/arousal circumplex"),
            (_png_uri(plot_face_summary(results.summary(), results.classes)), "per-face summary")]
    return "".join(f"<img src='{src}' alt='{alt}'>" for src, alt in imgs)


def _header(results, video: Path | None) -> str:
    meta = results.metadata
    v = meta.get("video", {}) or {}
    name = Path(v.get("path") or (video or "video")).name
    model = (meta.get("model") or {}).get("name", "?")
    bits = [f"{_fmt(v.get('duration_s'), '.1f')} s", f"{v.get('width', '?')}×{v.get('height', '?')}",
            f"{_fmt(v.get('fps'), '.2f')} fps", f"{meta.get('frames_analysed', results.frames['frame'].nunique())} frames analysed",
            f"{len(results.face_ids())} face track(s)", f"model {model}", f"VA {meta.get('va_source', '?')}"]
    return f"<h1>{html.escape(name)}</h1><p class='meta'>{html.escape(' · '.join(bits))}</p>"


def render_report(results, video: Path | None, out_dir: Path, options: ReportOptions | None = None,
                  annotated: Path | None = None, index_href: str | None = None) -> str:
    """The report page as a string (see :func:`build_report`)."""
    options = options or ReportOptions()
    src, note = _video_source(video, out_dir, options.video_mode, options.proxy_height)
    thumbs = None
    if options.thumbnails > 0 and video is not None and video.is_file() and len(results.faces):
        from vidaffect.report.thumbnails import face_thumbnails

        rotation = int((results.metadata.get("video") or {}).get("rotation") or 0)
        top = [fid for fid, _ in face_rows(results.frames, options.max_faces)]
        thumbs = face_thumbnails(video, results.frames[results.frames["face_id"].isin(top)], options.thumbnails,
                                 rotation=rotation)
    data = report_data(results, options, thumbs)
    has_people = "person_id" in results.frames.columns or "person_name" in results.frames.columns
    persons = person_labels(results.frames) if has_people else None
    if src is not None:
        player = f"<video id='player' controls preload='auto' src='{html.escape(src, quote=True)}'></video>"
    else:
        player = f"<div class='no-video' id='no-video'>{note}</div>"
    select = ""
    if src is not None and annotated is not None and annotated.is_file():
        ann = _relative_href(annotated, out_dir)
        select = (f"<select id='source-select' title='video shown'><option value='{html.escape(src, quote=True)}'>original"
                  f"</option><option value='{html.escape(ann, quote=True)}'>annotated</option></select>")
    shown = len(data["faces"])
    more = (f"<p class='note'>Showing the {shown} longest of {data['face_tracks']} face tracks; the table lists all.</p>"
            if data["face_tracks"] > shown else "")
    nav = f"<nav><a href='{html.escape(index_href, quote=True)}'>all videos</a></nav>" if index_href else ""
    plots = f"<section class='card'><h2>Plots</h2><div class='plots'>{_static_plots(results)}</div></section>" \
        if options.static_plots and len(results.faces) else ""
    created = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    title = html.escape(Path((results.metadata.get("video") or {}).get("path") or "video").name)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="vidaffect"><title>{title} · vidaffect report</title>
<style>{read_asset("report.css")}</style></head>
<body>
<header>{nav}{_header(results, video)}</header>
<section id="player-section"><div id="player-wrap">{player}
<div id="player-side"><div id="now">t = <span id="now-time">0.00 s</span>{select}</div>
<div class="note">{note} Click a chart, a thumbnail or a table row to jump there.</div>
<div id="lanes"></div></div></div></section>
<section><h2>Faces</h2>{more}<div id="faces"></div></section>
<section class="card"><h2>Summary</h2>{summary_table(results.summary(), results.classes, persons)}</section>
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
