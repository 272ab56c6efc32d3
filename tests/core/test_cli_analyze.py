"""`vidaffect analyze` from the command line: outputs, bad input, directory runs."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from video_fixtures import numbered_frames, write_video


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vidaffect", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def error_lines(stderr: str) -> list[str]:
    return [l for l in stderr.splitlines() if l.startswith("vidaffect: error:")]


def test_help_documents_every_option():
    out = run_cli("analyze", "--help").stdout
    for flag in ["--video-exts", "--model", "--checkpoint", "--batch-size", "--device", "--smoothing-size",
                 "--multi-face", "--single-face", "--face-size", "--mask", "--fps", "--save-crops", "--format",
                 "--log-file", "--quiet", "--start", "--end", "--detector", "--threshold", "--max-faces",
                 "--face-runtime", "--min-face"]:
        assert flag in out, flag
    assert "Traceback" not in out


def test_directory_run_with_a_bad_file_processes_the_rest(tmp_path):
    videos = tmp_path / "in"
    videos.mkdir()
    write_video(videos / "blank.mp4", numbered_frames(12, 96, 64), fps=12)
    (videos / "broken.mp4").write_text("not a video")
    (videos / "notes.txt").write_text("ignored: not a video extension")
    out = tmp_path / "out"
    r = run_cli("analyze", str(videos), "-o", str(out), "--format", "csv,json", "--log-file", str(tmp_path / "log.txt"))
    assert r.returncode == 1
    errors = error_lines(r.stderr)
    assert len(errors) == 1 and "broken.mp4" in errors[0] and "not a readable video" in errors[0]
    assert "Traceback" not in r.stderr
    frames = pd.read_csv(out / "blank.frames.csv")
    assert len(frames) == 12 and (frames["face_id"] == -1).all()  # every frame listed, no face
    meta = json.loads((out / "blank.metadata.json").read_text())
    assert meta["frames_analysed"] == 12 and meta["faces_found"] == 0
    assert not list(out.glob("broken*"))
    assert "broken.mp4" in (tmp_path / "log.txt").read_text()


@pytest.mark.parametrize("args, message", [
    (["missing.mp4"], "missing.mp4: file not found"),
    (["{v}", "--format", "xls"], "unknown format"),
    (["{v}", "--batch-size", "0"], "batch size must be >= 1"),
    (["{v}", "--model", "no-such-model"], "unknown model 'no-such-model'"),
    (["{v}", "--threshold", "1.5"], "detection threshold must be in (0, 1)"),
    (["{v}", "--min-face", "2"], "min face must be >= 8 pixels"),
    (["{v}", "--face-runtime", "litert", "--device", "cuda"], "device 'cuda'"),
    (["{v}", "--device", "tpu"], "device 'tpu'"),
])
def test_user_mistakes_give_one_line_errors(tmp_path, args, message):
    v = write_video(tmp_path / "v.mp4", numbered_frames(3), fps=10)
    r = run_cli("analyze", *[a.format(v=v) for a in args], "-o", str(tmp_path / "out"))
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert any(message in line for line in error_lines(r.stderr)), r.stderr


def test_unwritable_output_directory(tmp_path):
    v = write_video(tmp_path / "v.mp4", numbered_frames(3), fps=10)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = run_cli("analyze", str(v), "-o", str(blocker / "sub"))
    assert r.returncode == 1 and "output directory is not writable" in r.stderr and "Traceback" not in r.stderr


def test_quiet_run_prints_nothing_and_a_normal_run_only_our_own_lines(demo_video, tmp_path):
    """No native log lines (TFLite, XNNPACK, absl) reach the console: -q is silent on success."""
    quiet = run_cli("analyze", str(demo_video), "-o", str(tmp_path / "q"), "-q", "--end", "2")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout == "" and quiet.stderr == ""
    loud = run_cli("analyze", str(demo_video), "-o", str(tmp_path / "l"), "--end", "2")
    assert loud.returncode == 0
    for noise in ("INFO:", "XNNPACK", "TensorFlow", "W0000", "I0000", "absl", "delegate"):
        assert noise not in loud.stderr and noise not in loud.stdout, noise
