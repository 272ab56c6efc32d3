"""Subtitles of the emotion segments: WebVTT (``.vtt``, for a browser's ``<track>``) and SRT (players).

One cue per time span in which the set of visible people and their current
emotions stays the same, e.g. ``person 0: happy · person 1: neutral``
(people in id order).  Cues never overlap: simultaneous persons share one
cue, and a new cue starts wherever any person's segment starts or ends.
Spans where nobody is visible have no cue.

Not to be confused with ``<stem>.events.json``, the emotion events in the
schema of the VTT Friends project (:mod:`vidaffect.results.vtt`): a JSON
list, not a subtitle format.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from vidaffect.results.exports import id_column, segment_labels
from vidaffect.utils.atomic import atomic_path

SEPARATOR = " · "


def subtitle_cues(segments: pd.DataFrame, separator: str = SEPARATOR) -> list[tuple[float, float, str]]:
    """Non-overlapping ``(start_s, end_s, text)`` cues in time order (times rounded to milliseconds)."""
    if segments.empty:
        return []
    by = id_column(segments)
    seg = segments.assign(_label=segment_labels(segments), _start=np.round(segments["start_s"].astype(float) * 1000),
                          _end=np.round(segments["end_s"].astype(float) * 1000))
    seg = seg[seg["_end"] > seg["_start"]].sort_values([by, "_start"], kind="stable")
    bounds = np.unique(np.concatenate([seg["_start"].to_numpy(), seg["_end"].to_numpy()]))
    starts, ends = seg["_start"].to_numpy(), seg["_end"].to_numpy()
    labels, emotions = seg["_label"].to_numpy(), seg["emotion"].astype(str).to_numpy()
    cues: list[tuple[float, float, str]] = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        active = np.flatnonzero((starts <= a) & (ends > a))
        if not len(active):
            continue
        seen, parts = set(), []
        for k in active:  # one entry per label (a person seen by two tracks at once is listed once)
            if labels[k] not in seen:
                seen.add(labels[k])
                parts.append(f"{labels[k]}: {emotions[k]}")
        text = separator.join(parts)
        if cues and cues[-1][2] == text and cues[-1][1] == a:
            cues[-1] = (cues[-1][0], b, text)
        else:
            cues.append((a, b, text))
    return [(s / 1000.0, e / 1000.0, t) for s, e, t in cues]


def _timestamp(t: float, sep: str) -> str:
    ms = int(round(t * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def vtt_timestamp(t: float) -> str:
    """``HH:MM:SS.mmm``"""
    return _timestamp(t, ".")


def srt_timestamp(t: float) -> str:
    """``HH:MM:SS,mmm``"""
    return _timestamp(t, ",")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _vtt_escape(text: str) -> str:
    return _one_line(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def webvtt_text(segments: pd.DataFrame, note: str | None = None) -> str:
    """A WebVTT file: ``WEBVTT``, an optional NOTE block, then numbered cues."""
    out = ["WEBVTT", ""]
    if note:
        out += ["NOTE " + _one_line(note).replace("-->", "->"), ""]
    for n, (start, end, text) in enumerate(subtitle_cues(segments), 1):
        out += [str(n), f"{vtt_timestamp(start)} --> {vtt_timestamp(end)}", _vtt_escape(text), ""]
    return "\n".join(out)


def srt_text(segments: pd.DataFrame) -> str:
    """An SRT file: numbered cues, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, blank line between cues."""
    out = []
    for n, (start, end, text) in enumerate(subtitle_cues(segments), 1):
        out += [str(n), f"{srt_timestamp(start)} --> {srt_timestamp(end)}", _one_line(text), ""]
    return "\n".join(out)


def _note(segments: pd.DataFrame) -> str:
    p = segments.attrs.get("segment_params") or {}
    if not p:
        return "emotion segments by vidaffect"
    return (f"emotion segments by vidaffect: min duration {p['min_duration_s']:g} s, switch margin "
            f"{p['switch_margin']:g}, smoothing {p['smoothing_s']:g} s, gaps over {p['max_gap_s']:g} s end a segment")


def write_webvtt(segments: pd.DataFrame, path: str | Path) -> Path:
    """Write :func:`webvtt_text` to ``path`` atomically (UTF-8); return the path."""
    return _write(path, webvtt_text(segments, note=_note(segments)))


def write_srt(segments: pd.DataFrame, path: str | Path) -> Path:
    """Write :func:`srt_text` to ``path`` atomically (UTF-8); return the path."""
    return _write(path, srt_text(segments))


def _write(path: str | Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
