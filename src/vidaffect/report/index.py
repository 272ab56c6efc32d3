"""Index page of a results directory: one row per analysed video with its summary and links."""
from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from vidaffect.errors import OutputError
from vidaffect.plotting.colors import emotion_color
from vidaffect.report.html import read_asset
from vidaffect.report.timerange import analysed_range
from vidaffect.utils.atomic import atomic_write_bytes

OUTPUT_KINDS = [("report", ".report.html"), ("annotated", ".annotated.mp4"), ("frames", ".frames.csv"),
                ("frames", ".frames.parquet"), ("frames", ".frames.json"), ("summary", ".summary.csv"),
                ("events", ".events.json"), ("plot", ".va_trend.png")]


@dataclass
class VideoEntry:
    """What the index shows about one analysed video."""

    stem: str
    folder: Path
    metadata: dict
    summary: pd.DataFrame
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return Path((self.metadata.get("video") or {}).get("path") or self.stem).name

    def weighted(self, column: str) -> float:
        """Frame-weighted mean of a summary column over all faces (NaN without faces)."""
        s = self.summary
        if not len(s) or column not in s.columns or s["frames"].sum() == 0:
            return math.nan
        ok = s[column].notna()
        return float((s.loc[ok, column] * s.loc[ok, "frames"]).sum() / max(s.loc[ok, "frames"].sum(), 1))


def find_entries(out_dir: str | Path) -> list[VideoEntry]:
    """Every complete result set under ``out_dir`` (recursively): a ``<stem>.metadata.json`` and its files."""
    out_dir = Path(out_dir)
    entries = []
    for meta_path in sorted(out_dir.rglob("*.metadata.json")):
        stem = meta_path.name[: -len(".metadata.json")]
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            continue
        summary_path = meta_path.with_name(f"{stem}.summary.csv")
        try:
            summary = pd.read_csv(summary_path) if summary_path.exists() else pd.DataFrame()
        except (OSError, ValueError, pd.errors.EmptyDataError):
            summary = pd.DataFrame()
        files = {}
        for kind, suffix in OUTPUT_KINDS:
            p = meta_path.with_name(stem + suffix)
            if p.exists() and kind not in files:
                files[kind] = p
        entries.append(VideoEntry(stem, meta_path.parent, meta if isinstance(meta, dict) else {}, summary, files))
    return entries


def _href(path: Path, base: Path) -> str:
    return quote(path.relative_to(base).as_posix()) if path.is_relative_to(base) else path.resolve().as_uri()


def _num(v: float, spec: str) -> str:
    return "–" if v is None or not math.isfinite(v) else format(v, spec)


def _shares_bar(entry: VideoEntry, classes: list[str]) -> tuple[str, str]:
    """(bar html, top emotions text) of the frame-weighted dominant-emotion shares."""
    shares = [(entry.weighted(f"share_{c}"), c) for c in classes]
    shares = sorted(((s, c) for s, c in shares if math.isfinite(s) and s > 0), reverse=True)
    bar = "".join(f"<span style='width:{100 * s:.1f}%;background:{emotion_color(c)}' "
                  f"title='{c} {100 * s:.0f}%'></span>" for s, c in shares)
    return bar, ", ".join(f"{c} {100 * s:.0f}%" for s, c in shares[:3])


def render_index(entries: list[VideoEntry], base: Path, title: str = "vidaffect results") -> str:
    """The index page as a string."""
    rows = []
    for e in entries:
        v = e.metadata.get("video") or {}
        classes = e.metadata.get("classes") or [c[len("share_"):] for c in e.summary.columns if c.startswith("share_")]
        bar, top = _shares_bar(e, classes)
        main = e.files.get("report") or e.files.get("frames")
        name = html.escape(e.name)
        link = f"<a href='{_href(main, base)}'>{name}</a>" if main else name
        others = " · ".join(f"<a href='{_href(p, base)}'>{k}</a>" for k, p in e.files.items())
        val, aro = e.weighted("mean_valence"), e.weighted("mean_arousal")
        faces = len(e.summary)
        duration = float(v.get("duration_s") or math.nan)
        s = e.summary
        rng = analysed_range(e.metadata, float(s["first_s"].min()) if len(s) and "first_s" in s else None,
                             float(s["last_s"].max()) if len(s) and "last_s" in s else None)
        span = f"{rng.start:.1f}–{rng.end:.1f}" if rng.partial else "all"
        rows.append(
            f"<tr><td data-v='{name}'>{link}</td><td class='num' data-v='{duration}'>{_num(duration, '.1f')}</td>"
            f"<td class='num range{' partial' if rng.partial else ''}' data-v='{rng.end - rng.start}' "
            f"title='{html.escape(rng.text(), quote=True)}'>{span}</td>"
            f"<td class='num'>{e.metadata.get('frames_analysed', '–')}</td><td class='num'>{faces}</td>"
            f"<td class='shares' data-v='{html.escape(top)}'><span class='bar'>{bar}</span> {html.escape(top)}</td>"
            f"<td class='num' data-v='{val}'>{_num(val, '+.2f')}</td><td class='num' data-v='{aro}'>{_num(aro, '+.2f')}</td>"
            f"<td>{html.escape(str((e.metadata.get('model') or {}).get('name', '–')))}</td><td class='files'>{others}</td></tr>")
    head = "".join(f"<th class='{c}'>{h}</th>" for h, c in [
        ("video", ""), ("duration (s)", "num"), ("analysed (s)", "num"), ("frames", "num"), ("faces", "num"), ("dominant emotions", ""),
        ("mean valence", "num"), ("mean arousal", "num"), ("model", ""), ("files", "")])
    created = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = (f"<table id='videos'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>" if rows
            else "<p class='note'>No analysed video found here.</p>")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="vidaffect"><title>{html.escape(title)}</title><style>{read_asset("report.css")}</style></head>
<body><header><h1>{html.escape(title)}</h1><p class="meta">{len(entries)} video(s) · click a column to sort ·
means and shares are weighted by each face's frames</p></header>
<section class="card">{body}</section>
<p class="note" style="margin:10px 20px">Made by vidaffect on {created}.</p>
<script>{read_asset("index.js")}</script></body></html>
"""


def build_index(out_dir: str | Path, path: str | Path | None = None, title: str | None = None) -> Path:
    """Write ``out_dir/index.html`` (or ``path``) listing every analysed video under ``out_dir``."""
    out_dir = Path(out_dir)
    path = Path(path) if path else out_dir / "index.html"
    page = render_index(find_entries(out_dir), path.parent, title or f"vidaffect results: {out_dir.resolve().name}")
    try:
        return atomic_write_bytes(path, page.encode("utf-8"))
    except OSError as exc:
        raise OutputError(f"{path}: cannot write index page ({exc.strerror or exc})") from None
