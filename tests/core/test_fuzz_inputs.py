"""Bounded fuzzers for `vidaffect analyze` (issue 17): damaged video bytes, hostile command lines, kills.

Each example must end in a one-line error (exit status != 0, a ``vidaffect...: error:`` line, no traceback:
here, in-process, any other exception fails the test) or in valid complete results; never a partial set:
a result set is there only with its metadata, and then every file it lists is there and matches
(:func:`vidaffect.results.results.check_result_set`), and no other ``<name>.*`` file is.  The CLI runs
in-process, so an example costs a few tenths of a second; the kill test runs the real command.  The whole
file takes about a minute on 2 cores (``VIDAFFECT_FUZZ_SCALE=N`` for N times more examples); a failing
example is printed by hypothesis with the bytes or arguments that broke it; ``-s`` prints how the examples
ended.
"""
from __future__ import annotations

import collections
import contextlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from video_fixtures import noise_frames, numbered_frames, write_video
from vidaffect.cli.main import main
from vidaffect.results.results import STAGING_PREFIX, check_result_set

FUZZ = settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
# VIDAFFECT_FUZZ_SCALE=20 runs 20 times more examples (a longer local hunt); CI keeps 1 (about a minute).
SCALE = max(1, int(os.environ.get("VIDAFFECT_FUZZ_SCALE", "1")))
OUTCOMES: collections.Counter = collections.Counter()  # outcome -> count, printed with -s at the end of each fuzzer


def run_cli(args: list[str]) -> tuple[int, str]:
    """``vidaffect ARGS`` in this process: (exit status, stderr).  Exceptions other than argparse's exit
    propagate: they would be a traceback for the user."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            rc = main(args)
        except SystemExit as exc:  # argparse: usage and one error line, status 2
            rc = exc.code if isinstance(exc.code, int) else 1
    return rc, err.getvalue()


def assert_outcome(rc: int, stderr: str, out: Path, name: str, start: float | None = None,
                   end: float | None = None) -> None:
    """One-line error and nothing written for ``name``, or a complete, consistent result set."""
    first = next((l for l in stderr.splitlines() if ": error:" in l or ": warning:" in l), "")
    OUTCOMES[f"exit {rc}: {first.split(': ', 3)[-1][:60] if first else 'ok'}"] += 1
    assert "Traceback" not in stderr
    if out.exists():
        assert not list(out.glob(f"{STAGING_PREFIX}*")), "staging folder left behind"
    files = sorted(p.name for p in out.glob(f"{name}.*")) if out.exists() else []
    if rc != 0:
        lines = [l for l in stderr.splitlines() if ": error:" in l and l.startswith("vidaffect")]
        assert lines, f"exit status {rc} without an error line: {stderr!r}"
        assert all("\n" not in l for l in lines)
        assert files == [], f"a failed video left files: {files}"
        return
    meta_path = out / f"{name}.metadata.json"
    assert meta_path.is_file(), f"exit 0 but no metadata: {files}"
    assert check_result_set(meta_path) == []
    meta = json.loads(meta_path.read_text())
    listed = {e["file"] for e in meta["outputs"].values()} | {meta_path.name}
    assert set(files) == listed, f"files beside the set that its metadata does not list: {set(files) - listed}"
    if "csv" in meta["outputs"]:
        frames = pd.read_csv(out / meta["outputs"]["csv"]["file"])
        assert frames["frame"].nunique() == meta["frames_analysed"]
        assert frames["frame"].is_monotonic_increasing
        if len(frames):
            assert start is None or frames["time_s"].min() >= start - 1e-3
            assert end is None or frames["time_s"].max() < end
    if meta.get("damaged_spans"):
        assert meta["warnings"] and "damaged video data" in stderr


# ----- damaged video bytes -----
def _noise(n: int, w: int, h: int, seed: int) -> list[np.ndarray]:
    return noise_frames(n, w, h, seed)


def _faststart(path: Path, frames: list[np.ndarray]) -> Path:
    return write_video(path, frames, fps=25, faststart=True)


@pytest.fixture(scope="module")
def base_files(tmp_path_factory) -> dict[str, bytes]:
    """Whole small videos in several containers and codecs, plus files that are not videos at all."""
    import cv2

    d = tmp_path_factory.mktemp("fuzz_bases")
    frames = _noise(40, 96, 64, 0)
    bases = {
        "h264.mp4": write_video(d / "a.mp4", frames, fps=25, codec="libx264", gop_size=10),
        "h264-big.mp4": write_video(d / "a2.mp4", _noise(50, 128, 96, 1), fps=25, codec="libx264", gop_size=12),
        "mpeg4.avi": write_video(d / "b.avi", frames, fps=25, gop_size=10),
        "mpeg4.mkv": write_video(d / "c.mkv", numbered_frames(40, 96, 64), fps=20, gop_size=8),
        "faststart.mp4": _faststart(d / "d.mp4", frames),
        "vfr.mp4": write_video(d / "e.mp4", numbered_frames(12, 64, 48), pts_s=[0, .1, .15, .5, .55, 1.2, 1.3, 2.0,
                                                                               2.04, 2.5, 3.1, 3.2]),
    }
    data = {k: p.read_bytes() for k, p in bases.items()}
    data["png"] = cv2.imencode(".png", frames[0])[1].tobytes()
    data["jpeg"] = cv2.imencode(".jpg", frames[0])[1].tobytes()
    data["text"] = b"this is not a video\n" * 40
    data["empty"] = b""
    return data


NOT_VIDEOS = ("png", "jpeg", "text", "empty")


@st.composite
def damaged_bytes(draw, bases: dict[str, bytes]) -> tuple[str, bytes]:
    """A base file with 0-3 damages: truncation, flipped bytes, an overwritten span, inserted or deleted
    bytes, a junk prefix, or another file's bytes glued on."""
    videos = sorted(k for k in bases if k not in NOT_VIDEOS)
    key = draw(st.one_of(st.sampled_from(videos), st.sampled_from(videos), st.sampled_from(videos),
                         st.sampled_from(sorted(bases))))
    data = bytearray(bases[key])
    for _ in range(draw(st.integers(0 if key in NOT_VIDEOS else 1, 3))):
        n = len(data)
        op = draw(st.sampled_from(["truncate", "flip", "overwrite", "overwrite", "insert", "delete", "prefix", "glue"]))
        at = int(draw(st.one_of(st.floats(0.05, 0.95), st.floats(0.05, 0.95), st.floats(0, 1))) * n)
        if op == "truncate":
            data = data[:at]
        elif op == "flip" and n:
            for pos in draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=16)):
                data[pos] ^= draw(st.integers(1, 255))
        elif op == "overwrite":
            length = draw(st.integers(1, 20 * 1024))
            chunk = draw(st.binary(min_size=1, max_size=64))
            data[at:at + length] = (chunk * (length // len(chunk) + 1))[:length]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=512))
        elif op == "delete":
            del data[at:at + draw(st.integers(1, 4096))]
        elif op == "prefix":
            data[0:0] = draw(st.binary(min_size=1, max_size=64))
        elif op == "glue":
            data += bases[draw(st.sampled_from(sorted(bases)))]
    return key, bytes(data)


@pytest.mark.timeout(600)  # a hang (a decode or sampling loop that never ends) fails instead of blocking CI
def test_fuzz_damaged_video_bytes(base_files, tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz_bytes")

    @settings(FUZZ, max_examples=40 * SCALE)
    @given(damaged_bytes(base_files), st.sampled_from([".mp4", ".avi", ".mkv", ".mov"]),
           st.sampled_from([[], ["--end", "1"], ["--start", "0.5", "--end", "1.5"], ["--strict"], ["--fps", "5"]]))
    def check(case, ext, extra):
        key, data = case
        work = Path(tempfile.mkdtemp(dir=root))
        try:
            video = work / f"clip{ext}"
            video.write_bytes(data)
            out = work / "out"
            rc, err = run_cli(["analyze", str(video), "-o", str(out), "-q", "--no-plot", "--format", "csv,json",
                               *extra])
            start = float(extra[extra.index("--start") + 1]) if "--start" in extra else None
            end = float(extra[extra.index("--end") + 1]) if "--end" in extra else None
            assert_outcome(rc, err, out, "clip", start, end)
            if key in NOT_VIDEOS and data == base_files[key]:
                assert rc != 0  # never analysed as a video
            if "--strict" in extra and rc == 0:
                assert not json.loads((out / "clip.metadata.json").read_text())["damaged_spans"]
        finally:
            shutil.rmtree(work, ignore_errors=True)

    OUTCOMES.clear()
    check()
    print("\ndamaged bytes, outcomes:", dict(OUTCOMES.most_common()))


# ----- command lines -----
NUMBERS = ["0", "-0", "1", "-1", "0.5", "2", "7", "1e9", "-1e9", "1e309", "nan", "inf", "-inf", "1e-12", "abc", "",
           "3.5", "0x10"]


def _opt(flag: str, values) -> st.SearchStrategy[list[str]]:
    """``--flag=value`` (so that values like ``-inf`` reach the option) or, for plain values, ``--flag value``."""
    return st.builds(lambda v, glued: [f"{flag}={v}"] if glued or v.startswith("-") else [flag, v], values,
                     st.booleans())


def _num(flag: str, extra: list[str] = (), integer: bool = False) -> st.SearchStrategy[list[str]]:
    plausible = st.integers(-2, 40).map(str) if integer else st.floats(-1, 40).map(lambda v: f"{v:.3g}")
    return _opt(flag, st.one_of(plausible, plausible, st.sampled_from(NUMBERS + list(extra)),
                                st.floats(allow_nan=True, allow_infinity=True).map(repr)))


OPTIONS = st.one_of(
    _num("--fps"), _num("--start"), _num("--end"), _num("--max-gap"), _num("--smoothing-size"),
    _num("--batch-size", integer=True), _num("--detect-every", integer=True), _num("--mesh-every", integer=True),
    _num("--max-faces", integer=True), _num("--face-size", ["16", "112", "160"], integer=True),
    _num("--min-face"), _num("--threshold", ["0.5", "0.99", "1"]), _num("--input-size", integer=True),
    _opt("--threads", st.sampled_from(["-1", "0", "1", "2", "x"])),
    _opt("--format", st.sampled_from(["csv", "json", "parquet", "csv,json", "csv,parquet,json", "xls", ",", "", "CSV"])),
    _opt("--device", st.sampled_from(["cpu", "cuda", "cuda:7", "bogus", "", "cpu:0", "meta", "cuda:x", "mps"])),
    _opt("--precision", st.sampled_from(["auto", "fp32", "bf16", "fp16"])),
    _opt("--detector", st.sampled_from(["multiscale", "full", "short", "tiny"])),
    _opt("--face-runtime", st.sampled_from(["auto", "litert", "torch", "onnx"])),
    _opt("--events-format", st.sampled_from(["event", "frames", "lines"])),
    _opt("--model", st.sampled_from(["exprnet-s", "mini-xception", "resnet18-tsm", "mimamo", "nope", ""])),
    _opt("--checkpoint", st.sampled_from(["missing.safetensors", "X.pth", "X", ""])),
    _num("--identity-threshold"), _num("--segment-min-duration"), _num("--segment-margin"), _num("--elan-va-step"),
    _opt("--export", st.sampled_from(["elan", "webvtt", "srt", "elan,webvtt,srt", "ELAN", "pdf", ""])),
    st.sampled_from([["--single-face"], ["--multi-face"], ["--no-landmarks"], ["--mask"], ["--tta-flip"],
                     ["--strict"], ["--no-plot"], ["-q"], ["--bogus-flag"], ["--start"], ["--no-identity"],
                     ["--identity"], ["--report"], ["--annotate"]]),
)


@pytest.fixture(scope="module")
def small_video(tmp_path_factory) -> Path:
    return write_video(tmp_path_factory.mktemp("fuzz_video") / "clip.mp4", numbered_frames(20, 64, 48), fps=10)


@pytest.mark.timeout(600)
def test_fuzz_analyze_arguments(small_video, tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz_args")

    @settings(FUZZ, max_examples=60 * SCALE)
    @given(st.lists(OPTIONS, min_size=1, max_size=5))
    def check(options):
        work = Path(tempfile.mkdtemp(dir=root))
        try:
            out = work / "out"
            args = [a for o in options for a in o]
            if "--checkpoint" in args:  # a .pth beside a valid pair must not be swapped for it
                (work / "X.pth").write_bytes(b"junk")
                args = [str(work / a) if a in ("X.pth", "X", "missing.safetensors") else a for a in args]
            rc, err = run_cli(["analyze", str(small_video), "-o", str(out), "--no-plot", *args])
            def last(flag):  # the value argparse kept: the last one given
                values = [a.split("=", 1)[1] if "=" in a else nxt for a, nxt in zip(args, args[1:] + [""])
                          if a == flag or a.startswith(flag + "=")]
                try:
                    return float(values[-1]) if values else None
                except ValueError:
                    return None
            assert_outcome(rc, err, out, "clip", last("--start") if rc == 0 else None,
                           last("--end") if rc == 0 else None)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    OUTCOMES.clear()
    check()
    print("\ncommand lines, outcomes:", dict(OUTCOMES.most_common()))


# ----- kills -----
@pytest.mark.timeout(300)
def test_killed_analyze_leaves_only_complete_sets(tmp_path):
    """`vidaffect analyze` killed (SIGKILL, SIGINT) while it saves, or at a random moment: every result set
    with metadata is complete and consistent, and a rerun completes them all and leaves no staging folder."""
    import random
    import signal
    import subprocess
    import sys
    import time

    d = tmp_path / "in"
    d.mkdir()
    for i in range(3):
        write_video(d / f"v{i}.mp4", _noise(30 + 10 * i, 96, 64, i), fps=10)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "vidaffect", "analyze", str(d), "-o", str(out), "--format", "csv,parquet,json", "-q"]
    rng = random.Random()
    for sig, when in [(signal.SIGKILL, "saving"), (signal.SIGINT, "saving"), (signal.SIGKILL, "random")]:
        left = set(out.glob(f"{STAGING_PREFIX}*"))  # by the previous kill
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 120
            if when == "saving":  # the moment a new staging folder appears, plus up to 2.5 s (any video's save)
                while proc.poll() is None and time.monotonic() < deadline and not (
                        set(out.glob(f"{STAGING_PREFIX}*")) - left):
                    time.sleep(0.005)
                time.sleep(rng.uniform(0, 2.5))
            else:
                time.sleep(rng.uniform(2, 8))
            proc.send_signal(sig)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert "Traceback" not in err
        for meta in out.glob("*.metadata.json"):
            assert check_result_set(meta) == [], (sig, when, check_result_set(meta))
        if sig == signal.SIGINT and proc.returncode == 130:
            assert not list(out.glob(f"{STAGING_PREFIX}*"))  # Ctrl-C cleans up after itself
    rc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert rc.returncode == 0, rc.stderr
    assert sorted(p.name for p in out.glob("*.metadata.json")) == [f"v{i}.metadata.json" for i in range(3)]
    assert all(check_result_set(m) == [] for m in out.glob("*.metadata.json"))
    assert not list(out.glob(f"{STAGING_PREFIX}*"))
