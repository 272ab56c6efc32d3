"""Emotion segments (hysteresis, minimum duration, gaps, persons) and their exports: ELAN, WebVTT, SRT, CLI."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vidaffect.results.exports import EXPORTS, export_results, parse_exports
from vidaffect.results.exports.elan import va_bins, write_eaf
from vidaffect.results.exports.subtitles import srt_text, subtitle_cues, webvtt_text, write_webvtt
from vidaffect.results.results import Results
from vidaffect.results.segments import dominant_changes, emotion_segments, write_segments_csv

CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
FPS = 10.0
RAW = dict(min_duration_s=0.0, switch_margin=0.0, smoothing_s=0.0)  # no filtering: segments = raw argmax runs


def face_rows(plan, face_id=0, t0=0.0, fps=FPS, lead=0.7, **extra):
    """Rows of one face: ``plan`` is a list of (class, frames) or (None, frames) for absence.

    The planned class gets probability ``lead`` (or the tuple's third item), the rest share what is left.
    """
    rows, t = [], t0
    for item in plan:
        cls, n = item[0], item[1]
        p_top = item[2] if len(item) > 2 else lead
        for _ in range(n):
            if cls is not None:
                probs = {c: (1 - p_top) / (len(CLASSES) - 1) for c in CLASSES}
                if isinstance(cls, dict):  # explicit probabilities
                    probs = {c: cls.get(c, 0.0) for c in CLASSES}
                    top = max(probs, key=probs.get)
                else:
                    probs[cls], top = p_top, cls
                rows.append({"frame": int(round(t * fps)), "time_s": round(t, 4), "face_id": face_id,
                             "x1": 0.0, "y1": 0.0, "x2": 10.0, "y2": 10.0, "score": 0.9, **probs, "emotion": top,
                             "valence": 0.5 if top == "happy" else -0.5, "arousal": 0.2, **extra})
            t += 1 / fps
    return rows


def table(*row_lists, fps=FPS):
    """Frames table of several faces; every frame time appears (face_id -1 rows where nobody is seen)."""
    rows = [r for rl in row_lists for r in rl]
    df = pd.DataFrame(rows)
    all_t = np.round(np.arange(0, df["time_s"].max() + 1e-9, 1 / fps), 4)
    seen = set(df["time_s"])
    empty = [t for t in all_t if t not in seen]
    if empty:
        blank = pd.DataFrame({"frame": [int(round(t * fps)) for t in empty], "time_s": empty, "face_id": -1})
        if "person_id" in df.columns:
            blank["person_id"] = -1
        df = pd.concat([df, blank], ignore_index=True)
    return df.sort_values(["time_s", "face_id"]).reset_index(drop=True)


def spans(seg, col="face_id"):
    return [(int(r[col]), r["emotion"], round(r["start_s"], 3), round(r["end_s"], 3)) for _, r in seg.iterrows()]


# ----------------------------------------------------------------------------------------------- segments
def test_unfiltered_segments_are_the_raw_argmax_runs():
    f = table(face_rows([("happy", 5), ("sad", 2), ("happy", 3)]))
    seg = emotion_segments(f, CLASSES, **RAW)
    assert spans(seg) == [(0, "happy", 0.0, 0.5), (0, "sad", 0.5, 0.7), (0, "happy", 0.7, 1.0)]
    assert list(seg["frames"]) == [5, 2, 3] and (seg["agreement"] == 1).all()


def test_blips_shorter_than_min_duration_do_not_switch():
    # happy with 1-3 frame blips of other classes (0.1-0.3 s at 10 fps), as the raw argmax flickers
    plan = [("happy", 10), ("sad", 2), ("happy", 6), ("angry", 3), ("happy", 8), ("neutral", 1), ("happy", 10)]
    f = table(face_rows(plan))
    raw = emotion_segments(f, CLASSES, **RAW)
    assert dominant_changes(raw)[0] == 6
    seg = emotion_segments(f, CLASSES, min_duration_s=0.5, switch_margin=0.1, smoothing_s=0.0)
    assert spans(seg) == [(0, "happy", 0.0, 4.0)]
    assert seg["agreement"].iloc[0] == pytest.approx(34 / 40)
    assert seg["mean_probability"].iloc[0] == pytest.approx((34 * 0.7 + 6 * 0.05) / 40)


def test_a_held_change_switches_at_the_frame_it_began():
    f = table(face_rows([("happy", 10), ("sad", 10), ("happy", 10)]))
    seg = emotion_segments(f, CLASSES, min_duration_s=0.5, switch_margin=0.1, smoothing_s=0.0)
    # the boundary is where sad began (1.0 s), not where it had lasted min_duration (1.5 s)
    assert spans(seg) == [(0, "happy", 0.0, 1.0), (0, "sad", 1.0, 2.0), (0, "happy", 2.0, 3.0)]
    # a change lasting less than min_duration is absorbed
    seg = emotion_segments(f, CLASSES, min_duration_s=1.5, switch_margin=0.1, smoothing_s=0.0)
    assert spans(seg) == [(0, "happy", 0.0, 3.0)]


def test_margin_hysteresis():
    def probs(a, b):
        return {"happy": a, "neutral": b, "sad": 1 - a - b}

    # neutral leads happy by only 0.04 for 2 s, then by 0.3 for 1 s
    plan = [(probs(0.6, 0.3), 10), (probs(0.43, 0.47), 20), (probs(0.3, 0.6), 10)]
    f = table(face_rows(plan))
    seg = emotion_segments(f, CLASSES, min_duration_s=0.5, switch_margin=0.1, smoothing_s=0.0)
    assert spans(seg) == [(0, "happy", 0.0, 3.0), (0, "neutral", 3.0, 4.0)]
    # without a margin the small lead is enough
    seg = emotion_segments(f, CLASSES, min_duration_s=0.5, switch_margin=0.0, smoothing_s=0.0)
    assert spans(seg) == [(0, "happy", 0.0, 1.0), (0, "neutral", 1.0, 4.0)]


def test_lead_must_hold_without_interruption():
    # sad leads for 4 frames, happy 1 frame, sad 4 frames...: never 0.5 s in a row
    plan = [("happy", 10)] + [("sad", 4), ("happy", 1)] * 4 + [("happy", 5)]
    seg = emotion_segments(table(face_rows(plan)), CLASSES, min_duration_s=0.5, switch_margin=0.1, smoothing_s=0.0)
    assert list(seg["emotion"]) == ["happy"]
    # with smoothing, the same pattern is mostly sad and switches
    seg = emotion_segments(table(face_rows(plan)), CLASSES, min_duration_s=0.5, switch_margin=0.1, smoothing_s=0.5)
    assert list(seg["emotion"]) == ["happy", "sad", "happy"]


def test_a_short_first_class_gives_way_to_the_winner():
    f = table(face_rows([("sad", 3), ("angry", 20)]))
    seg = emotion_segments(f, CLASSES, min_duration_s=0.5, switch_margin=0.1, smoothing_s=0.0)
    assert spans(seg) == [(0, "angry", 0.0, 2.3)]


def test_gaps_end_segments_and_short_absences_do_not():
    long_gap = table(face_rows([("happy", 10), (None, 8), ("happy", 10)]))
    seg = emotion_segments(long_gap, CLASSES, max_gap_s=0.5)
    assert spans(seg) == [(0, "happy", 0.0, 1.0), (0, "happy", 1.8, 2.8)]
    assert dominant_changes(seg)[0] == 0
    short_gap = table(face_rows([("happy", 10), (None, 4), ("happy", 10)]))
    seg = emotion_segments(short_gap, CLASSES, max_gap_s=0.5)
    assert spans(seg) == [(0, "happy", 0.0, 2.4)]
    assert seg["frames"].iloc[0] == 20


def test_sparse_sampling_is_not_a_gap():
    f = table(face_rows([("happy", 6), ("sad", 6)], fps=1.0), fps=1.0)  # --fps 1
    seg = emotion_segments(f, CLASSES, min_duration_s=0.5, switch_margin=0.1, smoothing_s=0.0, max_gap_s=0.5)
    assert spans(seg) == [(0, "happy", 0.0, 6.0), (0, "sad", 6.0, 12.0)]


def test_segments_per_person_with_names_and_ids():
    a = face_rows([("happy", 20)], face_id=0, person_id=0, person_name="Ada")
    b = face_rows([("sad", 10), ("neutral", 10)], face_id=1, person_id=1, person_name="Bob")
    c = face_rows([("happy", 10)], face_id=2, t0=3.0, person_id=0, person_name="Ada")  # Ada back as a new track
    unlinked = face_rows([("angry", 10)], face_id=3, person_id=-1)
    f = table(a, b, c, unlinked)
    seg = emotion_segments(f, CLASSES)
    assert list(seg.columns[:2]) == ["person_id", "person_name"]
    assert spans(seg, "person_id") == [(0, "happy", 0.0, 2.0), (0, "happy", 3.0, 4.0),
                                       (1, "sad", 0.0, 1.0), (1, "neutral", 1.0, 2.0)]
    assert list(seg["person_name"]) == ["Ada", "Ada", "Bob", "Bob"]
    by_face = emotion_segments(f, CLASSES, by="face_id")
    assert sorted(set(by_face["face_id"])) == [0, 1, 2, 3]
    assert emotion_segments(f.drop(columns=["person_id", "person_name"]), CLASSES).columns[0] == "face_id"


def test_a_person_seen_twice_in_one_frame_is_averaged():
    a = face_rows([("happy", 10)], face_id=0, person_id=0)
    b = face_rows([("happy", 10)], face_id=1, person_id=0)
    seg = emotion_segments(table(a, b), CLASSES)
    assert spans(seg, "person_id") == [(0, "happy", 0.0, 1.0)] and seg["frames"].iloc[0] == 10


def test_segment_values_and_csv(tmp_path):
    f = table(face_rows([("happy", 10), ("sad", 10)]))
    seg = emotion_segments(f, CLASSES, min_duration_s=0.5, switch_margin=0.1, smoothing_s=0.0)
    assert list(seg["mean_valence"]) == [0.5, -0.5] and list(seg["mean_arousal"]) == [0.2, 0.2]
    assert list(seg["duration_s"]) == [1.0, 1.0] and list(seg["frames"]) == [10, 10]
    back = pd.read_csv(write_segments_csv(seg, tmp_path / "x.segments.csv"))
    assert list(back.columns) == ["face_id", "start_s", "end_s", "duration_s", "emotion", "mean_probability",
                                  "mean_valence", "mean_arousal", "frames", "agreement"]
    assert back["start_s"].tolist() == [0.0, 1.0] and back["emotion"].tolist() == ["happy", "sad"]
    # long videos keep millisecond times (no rounding to 4 significant digits)
    late = pd.DataFrame(face_rows([("happy", 10)], t0=3723.4567))
    assert pd.read_csv(write_segments_csv(emotion_segments(late, CLASSES), tmp_path / "y.csv"))["start_s"][0] == 3723.457


def test_no_faces_gives_an_empty_table():
    f = pd.DataFrame({"frame": [0, 1], "time_s": [0.0, 0.1], "face_id": [-1, -1]})
    for c in CLASSES + ["valence", "arousal"]:
        f[c] = np.nan
    seg = emotion_segments(f, CLASSES)
    assert seg.empty and "start_s" in seg.columns
    assert subtitle_cues(seg) == [] and webvtt_text(seg).startswith("WEBVTT")


def test_exports_of_a_video_without_faces_are_valid_and_empty(tmp_path):
    f = pd.DataFrame({"frame": [0, 1], "time_s": [0.0, 0.1], "face_id": [-1, -1], "person_id": [-1, -1]})
    for c in CLASSES + ["valence", "arousal"]:
        f[c] = np.nan
    res = Results(f, CLASSES, {"video": {"path": str(tmp_path / "empty.mp4")}})
    paths = export_results(res, tmp_path / "out", list(EXPORTS))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "empty.eaf", "empty.segments.csv", "empty.subtitles.srt", "empty.subtitles.vtt"]
    assert pd.read_csv(paths["segments"]).empty
    assert parse_webvtt(paths["webvtt"].read_text(encoding="utf-8")) == []
    assert paths["srt"].read_text(encoding="utf-8") == ""
    root = ET.parse(paths["elan"]).getroot()
    assert root.find("TIER") is None and root.find("TIME_ORDER") is not None


# ----------------------------------------------------------------------------------------------- ELAN
def two_people():
    a = face_rows([("happy", 10), ("sad", 10)], face_id=0, person_id=0)
    b = face_rows([("neutral", 15)], face_id=1, t0=0.5, person_id=1)
    f = table(a, b)
    return f, emotion_segments(f, CLASSES, min_duration_s=0.5, switch_margin=0.1, smoothing_s=0.0)


def test_eaf_structure_follows_eaf_3(tmp_path):
    f, seg = two_people()
    video = tmp_path / "media" / "clip.mp4"
    video.parent.mkdir()
    video.write_bytes(b"")
    path = write_eaf(seg, tmp_path / "out" / "clip.eaf", video=video, frames=f, classes=CLASSES)
    root = ET.parse(path).getroot()
    assert root.tag == "ANNOTATION_DOCUMENT" and root.get("FORMAT") == "3.0"
    order = [el.tag for el in root]
    expected = ["HEADER", "TIME_ORDER", "TIER", "LINGUISTIC_TYPE", "LANGUAGE", "CONSTRAINT", "CONTROLLED_VOCABULARY"]
    assert [t for i, t in enumerate(order) if i == 0 or order[i - 1] != t] == expected
    media = root.find("HEADER/MEDIA_DESCRIPTOR")
    assert media.get("MIME_TYPE") == "video/mp4" and media.get("MEDIA_URL") == video.resolve().as_uri()
    assert (path.parent / media.get("RELATIVE_MEDIA_URL")).resolve() == video.resolve()
    slots = {s.get("TIME_SLOT_ID"): int(s.get("TIME_VALUE")) for s in root.iter("TIME_SLOT")}
    values = [int(s.get("TIME_VALUE")) for s in root.iter("TIME_SLOT")]
    assert values == sorted(values) and len(slots) == len(values)
    used = set()
    for a in root.iter("ALIGNABLE_ANNOTATION"):
        assert slots[a.get("TIME_SLOT_REF1")] < slots[a.get("TIME_SLOT_REF2")]
        used |= {a.get("TIME_SLOT_REF1"), a.get("TIME_SLOT_REF2")}
    assert used == set(slots)  # no dangling slot
    ids = [a.get("ANNOTATION_ID") for a in root.iter("ALIGNABLE_ANNOTATION")]
    assert len(set(ids)) == len(ids)
    assert root.find("HEADER/PROPERTY[@NAME='lastUsedAnnotationId']").text == str(len(ids))
    # adjacent segments of a tier share their boundary slot (dragging it in ELAN moves both)
    tier = root.find("TIER[@TIER_ID='person 0']")
    anns = tier.findall("ANNOTATION/ALIGNABLE_ANNOTATION")
    assert anns[0].get("TIME_SLOT_REF2") == anns[1].get("TIME_SLOT_REF1")


def test_eaf_reads_back_with_pympi(tmp_path):
    pympi = pytest.importorskip("pympi", reason="pympi-ling not installed (pip install pympi-ling)")
    f, seg = two_people()
    video = tmp_path / "clip.avi"
    video.write_bytes(b"")
    path = write_eaf(seg, tmp_path / "clip.eaf", video=video, frames=f, va_step_s=0.5, classes=CLASSES)
    eaf = pympi.Elan.Eaf(str(path))
    assert set(eaf.get_tier_names()) == {"person 0", "person 0 valence", "person 0 arousal",
                                         "person 1", "person 1 valence", "person 1 arousal"}
    assert eaf.get_annotation_data_for_tier("person 0") == [(0, 1000, "happy"), (1000, 2000, "sad")]
    assert eaf.get_annotation_data_for_tier("person 1") == [(500, 2000, "neutral")]
    assert eaf.get_parameters_for_tier("person 1")["LINGUISTIC_TYPE_REF"] == "emotion"
    valence = eaf.get_annotation_data_for_tier("person 0 valence")
    assert [(s, e) for s, e, _ in valence] == [(0, 500), (500, 1000), (1000, 1500), (1500, 2000)]
    assert [float(v) for _, _, v in valence] == [0.5, 0.5, -0.5, -0.5]
    assert [float(v) for _, _, v in eaf.get_annotation_data_for_tier("person 1 arousal")] == [0.2, 0.2, 0.2]
    assert eaf.media_descriptors[0]["RELATIVE_MEDIA_URL"] == "./clip.avi"
    assert eaf.media_descriptors[0]["MIME_TYPE"] == "video/*"
    assert eaf.linguistic_types["emotion"]["CONTROLLED_VOCABULARY_REF"] == "emotion"
    cv_values = [vals[0][0] for vals, _ in eaf.controlled_vocabularies["emotion"][1].values()]
    assert cv_values == CLASSES


def test_eaf_without_va_and_with_awkward_names(tmp_path):
    pympi = pytest.importorskip("pympi", reason="pympi-ling not installed (pip install pympi-ling)")
    a = face_rows([("happy", 10)], face_id=0, person_id=0, person_name="Ann & <Bo>")
    b = face_rows([("sad", 10)], face_id=1, person_id=1, person_name="Ann & <Bo>")  # same enrolled name twice
    seg = emotion_segments(table(a, b), CLASSES)
    eaf = pympi.Elan.Eaf(str(write_eaf(seg, tmp_path / "x.eaf", frames=None)))
    assert sorted(eaf.get_tier_names()) == ["Ann & <Bo> (person 0)", "Ann & <Bo> (person 1)"]
    assert eaf.get_annotation_data_for_tier("Ann & <Bo> (person 1)") == [(0, 1000, "sad")]
    assert not eaf.media_descriptors


def test_va_bins_follow_presence():
    f = table(face_rows([("happy", 7), (None, 10), ("sad", 3)]))
    bins = va_bins(f, "face_id", 0.5)
    assert bins[["start_s", "end_s"]].round(3).values.tolist() == [[0.0, 0.5], [0.5, 0.7], [1.7, 2.0]]
    assert bins["valence"].tolist() == [0.5, 0.5, -0.5]


# ----------------------------------------------------------------------------------------------- subtitles
VTT_TIME = r"(\d{2}):([0-5]\d):([0-5]\d)\.(\d{3})"
SRT_TIME = VTT_TIME.replace(r"\.", ",")


def _seconds(m, i):
    h, mi, s, ms = (int(x) for x in m.groups()[i:i + 4])
    return h * 3600 + mi * 60 + s + ms / 1000


def parse_webvtt(text):
    """A strict WebVTT reader for what we write: header, NOTE blocks, cues with id/timing/text lines."""
    assert "\r" not in text
    blocks = text.split("\n\n")
    assert blocks[0] == "WEBVTT", blocks[0]
    cues = []
    for block in blocks[1:]:
        if not block.strip():
            continue
        lines = block.strip("\n").split("\n")
        if lines[0].startswith("NOTE"):
            assert not any("-->" in line for line in lines)
            continue
        if "-->" not in lines[0]:
            ident, lines = lines[0], lines[1:]
            assert ident.strip() and "-->" not in ident
        m = re.fullmatch(VTT_TIME + " --> " + VTT_TIME, lines[0])
        assert m, lines[0]
        text_lines = lines[1:]
        assert text_lines and all(line.strip() and "-->" not in line for line in text_lines)
        assert not re.search(r"[<>]|&(?!amp;|lt;|gt;)", "\n".join(text_lines))
        cues.append((_seconds(m, 0), _seconds(m, 4), "\n".join(text_lines)))
    return cues


def parse_srt(text):
    cues = []
    for n, block in enumerate([b for b in text.split("\n\n") if b.strip()], 1):
        lines = block.strip("\n").split("\n")
        assert lines[0] == str(n), (lines[0], n)
        m = re.fullmatch(SRT_TIME + " --> " + SRT_TIME, lines[1])
        assert m, lines[1]
        assert len(lines) >= 3 and all(line.strip() for line in lines[2:])
        cues.append((_seconds(m, 0), _seconds(m, 4), "\n".join(lines[2:])))
    return cues


def check_cues(cues):
    for (s, e, _), (s2, _, _) in zip(cues, cues[1:] + [(float("inf"), None, None)]):
        assert s < e <= s2  # ordered, non-empty, non-overlapping


def test_cues_merge_simultaneous_people_without_overlap():
    _, seg = two_people()  # person 0: happy 0-1, sad 1-2; person 1: neutral 0.5-2
    cues = subtitle_cues(seg)
    assert cues == [(0.0, 0.5, "person 0: happy"), (0.5, 1.0, "person 0: happy · person 1: neutral"),
                    (1.0, 2.0, "person 0: sad · person 1: neutral")]
    check_cues(cues)
    assert parse_webvtt(webvtt_text(seg)) == cues
    assert parse_srt(srt_text(seg)) == cues


def test_no_cue_while_nobody_is_visible_and_equal_cues_merge():
    a = face_rows([("happy", 10), (None, 10), ("happy", 10)], face_id=0)
    b = face_rows([("happy", 5)], face_id=1, t0=2.5)
    seg = emotion_segments(table(a, b), CLASSES)
    assert subtitle_cues(seg) == [(0.0, 1.0, "face 0: happy"), (2.0, 2.5, "face 0: happy"),
                                  (2.5, 3.0, "face 0: happy · face 1: happy")]
    touching = pd.DataFrame({"face_id": [0, 0], "start_s": [0.0, 1.0], "end_s": [1.0, 2.5],
                             "emotion": ["happy", "happy"]})
    assert subtitle_cues(touching) == [(0.0, 2.5, "face 0: happy")]


def test_subtitle_times_past_an_hour_and_escaping(tmp_path):
    rows = face_rows([("happy", 10)], t0=3725.25, face_id=0, person_id=0, person_name="A<b> & c")
    seg = emotion_segments(pd.DataFrame(rows), CLASSES)
    vtt = write_webvtt(seg, tmp_path / "x.subtitles.vtt").read_text(encoding="utf-8")
    assert "01:02:05.250 --> 01:02:06.250" in vtt
    assert "A&lt;b&gt; &amp; c: happy" in vtt
    assert parse_webvtt(vtt)[0][:2] == (3725.25, 3726.25)
    assert "01:02:05,250 --> 01:02:06,250" in srt_text(seg)


def test_webvtt_py_accepts_the_files(tmp_path):
    webvtt = pytest.importorskip("webvtt", reason="webvtt-py not installed")
    _, seg = two_people()
    paths = export_results(Results(pd.DataFrame(), CLASSES, {}), tmp_path, ["webvtt", "srt"], stem="clip",
                           segments=seg)
    captions = webvtt.read(str(paths["webvtt"]))
    assert [(c.start, c.end, c.text) for c in captions] == [
        ("00:00:00.000", "00:00:00.500", "person 0: happy"),
        ("00:00:00.500", "00:00:01.000", "person 0: happy · person 1: neutral"),
        ("00:00:01.000", "00:00:02.000", "person 0: sad · person 1: neutral")]
    assert [c.text for c in webvtt.from_srt(str(paths["srt"]))] == [c.text for c in captions]


def test_cli_plugin_mirrors_the_library_defaults():
    """The analyze plugin does not import vidaffect.results (pandas) when the command line is parsed."""
    from vidaffect.cli.analyze_plugins import export as plugin
    from vidaffect.results import segments

    assert plugin.EXPORTS == EXPORTS
    assert plugin.DEFAULT_MIN_DURATION_S == segments.DEFAULT_MIN_DURATION_S
    assert plugin.DEFAULT_SWITCH_MARGIN == segments.DEFAULT_SWITCH_MARGIN


def test_parse_exports():
    assert parse_exports("elan, WebVTT,srt,elan") == ["elan", "webvtt", "srt"]
    for bad in ["", "xls", "elan,vtt"]:
        with pytest.raises(ValueError, match="choose from elan, webvtt, srt"):
            parse_exports(bad)
    assert EXPORTS == ("elan", "webvtt", "srt")


# ----------------------------------------------------------------------------------------------- CLI
def test_analyze_export_writes_every_file(demo_video, tmp_path, capsys):
    """The demo video (8 s): one face, a second one from 3 s, no face in the last second."""
    from vidaffect.cli.main import main

    out = tmp_path / "out"
    code = main(["analyze", str(demo_video), "-o", str(out), "-q", "--no-plot",
                 "--export", "elan,webvtt,srt", "--segment-min-duration", "0.4", "--segment-margin", "0.05"])
    assert code == 0, capsys.readouterr().err
    names = sorted(p.name for p in out.iterdir())
    for name in ["demo.segments.csv", "demo.eaf", "demo.subtitles.vtt", "demo.subtitles.srt", "demo.events.json"]:
        assert name in names
    assert not [n for n in names if n.endswith(".part") or n.startswith(".")]  # atomic writes left nothing
    frames = pd.read_csv(out / "demo.frames.csv")
    seg = pd.read_csv(out / "demo.segments.csv")
    by = "person_id" if "person_id" in frames.columns else "face_id"
    people = sorted(frames.loc[(frames["face_id"] >= 0) & (frames[by] >= 0), by].unique())
    assert len(people) >= 2 and sorted(seg[by].unique()) == people
    assert seg["start_s"].min() >= 0 and seg["end_s"].max() <= 7.5  # nobody in the last second
    assert (seg["duration_s"] > 0).all() and set(seg["emotion"]) <= set(CLASSES)
    root = ET.parse(out / "demo.eaf").getroot()
    tiers = [t.get("TIER_ID") for t in root.iter("TIER")]
    assert [t for t in tiers if not t.endswith(("valence", "arousal"))] == [f"{by[:-3]} {i}" for i in people]
    assert Path(out, root.find("HEADER/MEDIA_DESCRIPTOR").get("RELATIVE_MEDIA_URL")).resolve() == demo_video.resolve()
    vtt = parse_webvtt((out / "demo.subtitles.vtt").read_text(encoding="utf-8"))
    srt = parse_srt((out / "demo.subtitles.srt").read_text(encoding="utf-8"))
    check_cues(vtt)
    assert vtt == srt and vtt
    assert any(" · " in text for _, _, text in vtt)  # two people on screen after 3 s
    assert vtt[-1][1] <= 7.5


def test_analyze_rejects_unknown_exports_in_one_line(demo_video, tmp_path, capsys):
    from vidaffect.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(["analyze", str(demo_video), "-o", str(tmp_path), "--export", "elan,xls"])
    assert exc.value.code == 2
    errors = [l for l in capsys.readouterr().err.splitlines() if "error:" in l]
    assert errors == ["vidaffect analyze: error: argument --export: unknown export(s) xls; "
                      "choose from elan, webvtt, srt"]
    assert not list(tmp_path.iterdir())
