"""``vidaffect analyze --export elan,webvtt,srt``: emotion segments for ELAN and video players.

Writes ``<stem>.segments.csv`` whenever ``--export`` is given, plus
``<stem>.eaf`` (elan), ``<stem>.subtitles.vtt`` (webvtt) and
``<stem>.subtitles.srt`` (srt); see docs/exports.md.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from vidaffect.errors import OutputError

# Nothing from vidaffect.results is imported here: it loads pandas, and every plugin is imported whenever the
# command line is parsed.  These mirror vidaffect.results.exports.EXPORTS and the defaults of
# vidaffect.results.segments (a test checks that they agree); None on the command line means "the default".
EXPORTS = ("elan", "webvtt", "srt")
DEFAULT_MIN_DURATION_S = 0.5
DEFAULT_SWITCH_MARGIN = 0.1


def _export_list(text: str) -> list[str]:
    names = list(dict.fromkeys(n.strip().lower() for n in text.split(",") if n.strip()))
    bad = [n for n in names if n not in EXPORTS]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"unknown export(s) {', '.join(bad) if bad else repr(text)}; choose from {', '.join(EXPORTS)}")
    return names


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _margin(text: str) -> float:
    value = _seconds(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"a probability difference in [0, 1], got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("exports (emotion segments for ELAN and video players, docs/exports.md)")
    g.add_argument("--export", type=_export_list, default=None, metavar="LIST",
                   help=f"comma-separated: {', '.join(EXPORTS)}. Writes <video>.segments.csv (dominant emotion "
                        "per person as time spans, see --segment-*) and elan: <video>.eaf (an ELAN document linked "
                        "to the video: one tier of emotion segments per person, and valence/arousal tiers), "
                        "webvtt: <video>.subtitles.vtt (for a browser's <track>), srt: <video>.subtitles.srt. "
                        "Not to be confused with <video>.events.json, the emotion events in the VTT Friends schema")
    g.add_argument("--segment-min-duration", type=_seconds, default=None, metavar="S",
                   help="a new dominant emotion must lead for this many seconds before a segment switches "
                        f"(default: {DEFAULT_MIN_DURATION_S}, measured in docs/exports.md)")
    g.add_argument("--segment-margin", type=_margin, default=None, metavar="P",
                   help="... and lead the current one by at least this much (smoothed) probability "
                        f"(default: {DEFAULT_SWITCH_MARGIN})")
    g.add_argument("--elan-va-step", type=_seconds, default=0.5, metavar="S",
                   help="elan: valence and arousal tiers with one mean value per S seconds; 0 for none "
                        "(default: %(default)s)")


def after_save(args, video_path, results, out_dir, paths) -> dict[str, Path]:
    exports = getattr(args, "export", None)
    if not exports:
        return {}
    from vidaffect.results.exports import export_results

    meta_file = paths.get("metadata")  # <name>.metadata.json: the set's name (unique in the run)
    stem = (meta_file.name[: -len(".metadata.json")] if meta_file is not None
            else Path((results.metadata.get("video") or {}).get("path") or video_path).stem)
    options = {k: v for k, v in [("min_duration_s", args.segment_min_duration),
                                 ("switch_margin", args.segment_margin)] if v is not None}
    try:
        return export_results(results, out_dir, exports, video=video_path, stem=stem,
                              va_step_s=args.elan_va_step, **options)
    except OSError as exc:
        raise OutputError(f"{out_dir}: cannot write exports ({exc.strerror or exc})") from None
