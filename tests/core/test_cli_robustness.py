"""Issue 17, hostile-but-fair input to `vidaffect analyze`: one regression test per case (named after it).

Every case ends in a one-line error or a valid (possibly empty) result set, nothing is lost, and no
result set looks complete unless it is (``check_result_set`` finds every file its metadata lists).
The CLI runs in-process (``main([...])``) to stay fast; synthetic videos, the shared ones when present.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from video_fixtures import VIDEOS, noise_frames, numbered_frames, write_video
from vidaffect.cli.main import main
from vidaffect.results.results import STAGING_PREFIX, Results, check_result_set


def run(capsys, *args: str) -> tuple[int, str, str]:
    """``vidaffect ARGS`` in this process: (exit status, stdout, stderr); argparse's exit counts as a status."""
    try:
        rc = main([str(a) for a in args])
    except SystemExit as exc:  # argparse: usage + one error line
        rc = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return rc, out, err


def errors(stderr: str) -> list[str]:
    return [l for l in stderr.splitlines() if l.startswith("vidaffect: error:")]


def result_sets(out: Path) -> dict[str, dict]:
    """name -> metadata of every result set in ``out``, each checked complete and consistent."""
    sets = {}
    for meta in sorted(out.glob("*.metadata.json")):
        assert check_result_set(meta) == [], check_result_set(meta)
        sets[meta.name[: -len(".metadata.json")]] = json.loads(meta.read_text())
    return sets


# ----- 1 -----
def test_case01_same_stem_videos_get_distinct_outputs(tmp_path, capsys):
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    a = write_video(d / "single_face.mp4", numbered_frames(5), fps=10)
    b = write_video(d / "single_face.avi", numbered_frames(7), fps=10)
    c = write_video(d / "sub" / "single_face.mp4", numbered_frames(9), fps=10)
    u = write_video(d / "other.mp4", numbered_frames(3), fps=10)
    out = tmp_path / "out"
    rc, stdout, err = run(capsys, "analyze", d, a, "-o", out, "--no-plot")  # `a` twice: analysed once
    assert rc == 0, err
    sets = result_sets(out)
    assert len(sets) == 4 and "other" in sets  # a stem no other input has keeps its plain name
    by_video = {Path(m["video"]["path"]).resolve(): (name, m["frames_analysed"]) for name, m in sets.items()}
    assert {p: n for p, (_, n) in by_video.items()} == {a.resolve(): 5, b.resolve(): 7, c.resolve(): 9, u.resolve(): 3}
    for v in (a, b, c):
        name = by_video[v.resolve()][0]
        assert name.startswith("single_face-") and len(name) == len("single_face-") + 8
        assert len(pd.read_csv(out / f"{name}.frames.csv")) == by_video[v.resolve()][1]
    assert "4 video(s) analysed" in stdout
    # the same inputs get the same names: a rerun replaces its own sets; the report plugin follows the names,
    # and what it writes joins each set's list of files
    rc, _, err = run(capsys, "analyze", d, "-o", out, "--no-plot", "-q", "--report", "--report-video", "none",
                     "--export", "webvtt")
    assert rc == 0, err
    again = result_sets(out)
    assert set(again) == set(sets)
    for name, meta in again.items():
        assert meta["outputs"]["report"]["file"] == f"{name}.report.html"
        assert meta["outputs"]["webvtt"]["file"] == f"{name}.subtitles.vtt"


# ----- 2 -----
def test_case02_empty_time_range_gives_empty_results_not_a_crash(tmp_path, capsys):
    short = write_video(tmp_path / "short.mp4", numbered_frames(10), fps=10)  # 1 s
    long = write_video(tmp_path / "long.mp4", numbered_frames(30), fps=10)  # 3 s
    out = tmp_path / "out"
    rc, _, err = run(capsys, "analyze", short, long, "-o", out, "--start", "2", "--no-plot", "-q")
    assert rc == 0 and "Traceback" not in err
    assert any("short.mp4" in l and "no frame in the requested time range" in l for l in err.splitlines())
    sets = result_sets(out)
    assert sets["short"]["frames_analysed"] == 0 and sets["long"]["frames_analysed"] == 10  # the later video too
    empty = pd.read_csv(out / "short.frames.csv")
    assert len(empty) == 0 and {"frame", "time_s", "face_id", "emotion", "valence"} <= set(empty.columns)
    assert sets["short"]["warnings"]
    for bad in (["--end", "0"], ["--start", "5", "--end", "1"], ["--start", "-1"], ["--end", "nan"]):
        rc, _, err = run(capsys, "analyze", short, "-o", tmp_path / "o2", *bad)
        assert rc == 1 and len(errors(err)) == 1 and "Traceback" not in err, (bad, err)

    import vidaffect  # the Python API
    from vidaffect.errors import VidaffectError

    res = vidaffect.analyze(short, start=1000)
    assert len(res.frames) == 0 and res.summary().empty and res.metadata["frames_analysed"] == 0
    with pytest.raises(VidaffectError, match="--end must be > 0"):
        vidaffect.analyze(short, end=0)

    from vidaffect.batch.worker import analyze_video  # batch's worker streams through the same code path
    from vidaffect.pipeline.analyzer import Analyzer

    with Analyzer(start=1000) as an:
        res = analyze_video(an, short, on_progress=lambda f: None)
    assert len(res.frames) == 0 and res.metadata["warnings"]


# ----- 4 -----
def _results(n: int, tag: str) -> Results:
    from vidaffect.labels import EMOTIONS

    rows = [{"frame": i, "time_s": i / 10, "face_id": 0, "x1": 1.0, "y1": 1.0, "x2": 9.0, "y2": 9.0, "score": 0.9,
             "faces_in_frame": 1, **{c: 1 / 7 for c in EMOTIONS}, "emotion": "happy", "valence": 0.1,
             "arousal": 0.2} for i in range(n)]
    return Results(pd.DataFrame(rows), list(EMOTIONS), {"video": {"path": "/v/clip.mp4"}, "run": tag})


def test_case04_interrupted_save_leaves_old_set_or_no_metadata(tmp_path, monkeypatch):
    from vidaffect.results import results as results_mod

    out = tmp_path / "out"
    _results(5, "old").save(out, ("csv", "parquet"), plot=True)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert check_result_set(out / "clip.metadata.json") == []

    # interrupted while the new set is written (Ctrl-C in the plot): the old set stays, whole
    def interrupt(*a, **k):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(Results, "plot", interrupt)
        with pytest.raises(KeyboardInterrupt):
            _results(9, "new").save(out, ("csv", "parquet"), plot=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before

    # interrupted while publishing (after the first rename): no metadata, so the set is visibly incomplete
    real_replace, calls = os.replace, []

    def replace_once(src, dst):  # atomic writes inside the staging folder pass; the 2nd rename into out fails
        if Path(dst).parent == out:
            calls.append(dst)
            if len(calls) > 1:
                raise KeyboardInterrupt
        real_replace(src, dst)

    with monkeypatch.context() as m:
        m.setattr(results_mod.os, "replace", replace_once)
        with pytest.raises(KeyboardInterrupt):
            _results(9, "new").save(out, ("csv", "parquet"), plot=True)
    assert len(calls) == 2 and not (out / "clip.metadata.json").exists()
    assert not list(out.glob(f"{STAGING_PREFIX}*"))

    # a complete rerun with fewer outputs: the old set's other files are gone, not left beside the new ones
    _results(9, "new").save(out, ("csv",), plot=False)
    assert sorted(p.name for p in out.iterdir()) == ["clip.events.json", "clip.frames.csv", "clip.metadata.json",
                                                    "clip.summary.csv"]
    assert result_sets(out)["clip"]["run"] == "new"

    # a staging folder left by a killed run (its process is gone) is removed by the next save
    leftover = out / f"{STAGING_PREFIX}clip-999999999-abcdef"
    leftover.mkdir()
    (leftover / "clip.frames.csv").write_text("half")
    _results(3, "again").save(out, ("csv",), plot=False)
    assert not leftover.exists()


def test_case04_sigint_during_cli_save_never_leaves_a_mixed_set(tmp_path, capsys, monkeypatch):
    v = write_video(tmp_path / "clip.mp4", numbered_frames(6), fps=10)
    out = tmp_path / "out"
    assert run(capsys, "analyze", v, "-o", out, "--format", "csv,json", "-q")[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def interrupt(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(Results, "to_events", interrupt)  # Ctrl-C after frames and summary are written
    rc, _, err = run(capsys, "analyze", v, "-o", out, "--format", "csv,json", "--start", "0.3", "-q")
    assert rc == 130 and "Traceback" not in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # the old set, whole


# ----- 5 -----
def faststart_mp4(path: Path, frames: list[np.ndarray], fps: int = 25) -> Path:
    """An MP4 with its index (moov) before the data, as web videos are: a cut copy still opens."""
    return write_video(path, frames, fps=fps, faststart=True)


def test_case05_truncated_file_with_end_is_judged_against_the_range(tmp_path, capsys):
    full = faststart_mp4(tmp_path / "full.mp4", noise_frames(100, 64, 48))  # 4 s
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full.read_bytes()[: int(full.stat().st_size * 0.4)])  # frames to 0.72 s left
    out = tmp_path / "out"
    for end in ("3", "1"):
        rc, _, err = run(capsys, "analyze", cut, "-o", out, "--end", end, "-q")
        assert rc == 1 and len(errors(err)) == 1 and "truncated video" in err and f"up to --end {end} s" in err
    assert not list(out.glob("*.metadata.json"))
    rc, _, err = run(capsys, "analyze", cut, "-o", out, "--end", "0.6", "-q")  # this range is all there
    assert rc == 0, err
    assert result_sets(out)["cut"]["frames_analysed"] == 15

    wolf = VIDEOS / "WolfgangLanger_Pexels.mp4"  # the case as reported
    if wolf.exists():
        part = tmp_path / "wolf.mp4"
        part.write_bytes(wolf.read_bytes()[:489_687])
        rc, _, err = run(capsys, "analyze", part, "-o", out, "--end", "12", "-q")
        assert rc == 1 and "truncated video" in err and "Traceback" not in err


# ----- 10 -----
def test_case10_on_screen_time_uses_real_timestamps_vfr():
    from vidaffect.labels import EMOTIONS

    times = [0.0, 0.04, 0.08, 0.12, 2.0, 4.0, 6.0, 6.31, 6.35]
    face = [True] * 8 + [False]  # the face is on screen from 0 to 6.35 s (9 frames, 8 with the face)
    rows = []
    for i, (t, f) in enumerate(zip(times, face)):
        rows.append({"frame": i, "time_s": t, "face_id": 0 if f else -1, "faces_in_frame": int(f),
                     **{c: (1 / 7 if f else np.nan) for c in EMOTIONS}, "emotion": "happy" if f else None,
                     "valence": 0.0, "arousal": 0.0})
    res = Results(pd.DataFrame(rows), list(EMOTIONS), {})
    s = res.summary().iloc[0]
    assert s["on_screen_s"] == pytest.approx(6.35)  # not 8 frames x the median step (0.04 s)
    assert s["frames"] == 8 and s["first_s"] == 0.0 and s["last_s"] == pytest.approx(6.31)
    # a frame just before damaged (skipped) data counts one step, not the gap the damage left
    res.metadata["damaged_spans"] = [{"start_s": 2.1, "end_s": 3.9, "packets": 40, "error": "x"}]
    dur = res.frame_durations()  # median step 0.175 s
    assert dur.loc[2.0] == pytest.approx(0.175) and dur.loc[4.0] == pytest.approx(2.0)
    assert res.summary().iloc[0]["on_screen_s"] == pytest.approx(6.35 - 2.0 + 0.175)


# ----- 11 -----
@pytest.mark.parametrize("args, message", [
    (["--device", "bogus"], "unknown device 'bogus'"),
    (["--device", "cuda"], "device 'cuda'"),
    (["--max-gap", "-1"], "--max-gap must be >= 0"),
    (["--max-gap", "inf"], "--max-gap must be a finite number"),
])
def test_case11_bad_device_and_max_gap_are_one_line_errors(tmp_path, capsys, args, message):
    if args[1] == "cuda":
        import torch

        if torch.cuda.is_available():
            pytest.skip("a CUDA GPU is visible: --device cuda is valid here")
    v = write_video(tmp_path / "v.mp4", numbered_frames(3), fps=10)
    rc, _, err = run(capsys, "analyze", v, "-o", tmp_path / "out", *args)
    assert rc == 1 and "Traceback" not in err
    assert len(errors(err)) == 1 and message in errors(err)[0], err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_case11_every_command_checks_its_device(tmp_path, capsys):
    rc, _, err = run(capsys, "eval", "expressions", "--data", tmp_path, "--device", "bogus")
    assert rc == 1 and errors(err) == ["vidaffect: error: unknown device 'bogus'; use cpu or cuda[:N]"]


# ----- 12 -----
def _damaged_copy(tmp_path: Path) -> tuple[Path, int]:
    src = write_video(tmp_path / "good.mp4", noise_frames(75), fps=25, codec="libx264", gop_size=12)  # 3 s
    data = bytearray(src.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 20 * 1024] = np.random.default_rng(1).integers(0, 256, 20 * 1024, dtype=np.uint8).tobytes()
    bad = tmp_path / "damaged.mp4"
    bad.write_bytes(bytes(data))
    return bad, 75


def test_case12_corrupt_bytes_in_the_middle_are_skipped_and_recorded(tmp_path, capsys):
    bad, total = _damaged_copy(tmp_path)
    out = tmp_path / "out"
    rc, _, err = run(capsys, "analyze", bad, "-o", out, "--no-plot", "-q")
    assert rc == 0, err
    warnings = [l for l in err.splitlines() if l.startswith("vidaffect: warning:")]
    assert len(warnings) == 1 and "damaged video data from" in warnings[0] and "skipped" in warnings[0]
    meta = result_sets(out)["damaged"]
    spans = meta["damaged_spans"]
    assert len(spans) == 1 and 0 < spans[0]["start_s"] < spans[0]["end_s"] < 3.0 and spans[0]["packets"] >= 1
    assert total // 2 < meta["frames_analysed"] < total and meta["warnings"] == [warnings[0].split(": ", 3)[3]]
    rc, _, err = run(capsys, "analyze", bad, "-o", tmp_path / "strict", "--strict", "-q")
    assert rc == 1 and len(errors(err)) == 1 and "corrupt video data" in err and "Traceback" not in err
    assert not list((tmp_path / "strict").glob("*.metadata.json"))


# ----- 13 -----
def test_case13_still_image_renamed_mp4_is_refused(tmp_path, capsys):
    import cv2

    img = tmp_path / "photo.mp4"
    ok, png = cv2.imencode(".png", noise_frames(1)[0])
    img.write_bytes(png.tobytes())
    rc, _, err = run(capsys, "analyze", img, "-o", tmp_path / "out", "-q")
    assert rc == 1 and len(errors(err)) == 1 and "still image" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "photo.metadata.json").exists()


# ----- 15 -----
def test_case15_checkpoint_pth_is_not_swapped_for_safetensors(tmp_path, capsys):
    import shutil

    from vidaffect.models.checkpoint import CheckpointError, load_model_checkpoint
    from vidaffect.models.zoo.exprnet import SHIPPED

    for ext in (".safetensors", ".json"):
        shutil.copy(Path(SHIPPED).with_suffix(ext), tmp_path / f"X{ext}")
    (tmp_path / "X.pth").write_bytes(b"\x80\x04junk")
    v = write_video(tmp_path / "v.mp4", numbered_frames(3), fps=10)
    rc, _, err = run(capsys, "analyze", v, "-o", tmp_path / "out", "--checkpoint", tmp_path / "X.pth", "-q")
    assert rc == 1 and len(errors(err)) == 1 and "X.pth: not a vidaffect checkpoint" in err
    assert "X.safetensors" not in err
    with pytest.raises(CheckpointError, match=r"X\.pth"):
        load_model_checkpoint(tmp_path / "X.pth")
    assert load_model_checkpoint(tmp_path / "X.json")[1]["arch"] == "exprnet"  # the pair, by either file
    assert load_model_checkpoint(tmp_path / "X")[1]["arch"] == "exprnet"  # or by its name


@pytest.mark.parametrize("value", ["-1", "2.5", "nan", "x"])
def test_identity_and_gallery_thresholds_outside_0_2_are_one_line_errors(tmp_path, capsys, value):
    video = write_video(tmp_path / "v.mp4", noise_frames(3))
    for flag in ("--identity-threshold", "--gallery-threshold"):
        rc, _out, err = run(capsys, "analyze", str(video), "-o", str(tmp_path / "out"), "-q", flag, value)
        lines = [line for line in err.splitlines() if ": error:" in line]
        assert rc != 0 and "Traceback" not in err, (flag, err)
        assert len(lines) == 1 and "threshold" in lines[0], (flag, err)
