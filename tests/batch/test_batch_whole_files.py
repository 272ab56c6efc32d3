"""Watch mode takes whole files only; a changed file supersedes its old result; one extension list; -q Ray."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from batch_helpers import SINGLE, VIDEOS, ledger_jobs, make_variant, needs_videos, wait_for

from vidaffect.batch.dataset import read_dataset
from vidaffect.video.formats import DEFAULT_EXTS
from vidaffect.video.pyav_backend import incomplete_reason

WMV = VIDEOS / "default.wmv"
AVI = VIDEOS / "multi_face.avi"


@needs_videos
@pytest.mark.parametrize("kind", ["wmv", "avi", "mkv", "mp4"])
def test_incomplete_reason_spots_partial_copies(tmp_path, kind):
    src = {"wmv": WMV, "avi": AVI, "mp4": SINGLE}.get(kind) or make_variant(SINGLE, tmp_path / "src.mkv", "", "matroska")
    assert incomplete_reason(src) is None
    data = src.read_bytes()
    for share in (0.2, 0.6, 0.97):
        part = tmp_path / f"part{share}.{kind}"
        part.write_bytes(data[:int(len(data) * share)])
        assert incomplete_reason(part), f"{share:.0%} of a {kind} passed as whole"
    assert incomplete_reason(tmp_path / "missing.mp4")


def _watcher(tmp_path, **kw):
    from vidaffect.batch.watch import Watcher
    from vidaffect.pipeline.analyzer import AnalyzeOptions

    drop = tmp_path / "drop"
    drop.mkdir(exist_ok=True)
    return Watcher(drop, tmp_path / "out", AnalyzeOptions(end=0.5), interval=0.1, **kw)


def test_in_progress_names_and_ignore_patterns_are_skipped(tmp_path):
    w = _watcher(tmp_path, ignore=["rec_*"])
    names = ["ok.mp4", "OK2.MKV", "a.mp4.part", "b.part", ".hidden.mp4", "c.tmp", "d.crdownload", "rec_1.mp4",
             "sub/e.mp4", ".rsync-tmp/f.mp4", "notes.txt", "g.ts"]
    for n in names:
        (w.directory / n).parent.mkdir(parents=True, exist_ok=True)
        (w.directory / n).write_bytes(b"x")
    got = sorted(p.relative_to(w.directory).as_posix() for p in w.candidates())
    assert got == ["OK2.MKV", "g.ts", "ok.mp4", "sub/e.mp4"]


@needs_videos
def test_settle_rule_and_decode_check(tmp_path):
    w = _watcher(tmp_path, settle=0.3)
    target = w.directory / "v.wmv"
    data = WMV.read_bytes()
    target.write_bytes(data[:len(data) // 2])
    assert w.ready_files() == []  # first sight
    time.sleep(0.35)
    assert w.ready_files() == []  # settled, but it does not reach its announced end
    with open(target, "ab") as f:
        f.write(data[len(data) // 2:])
    assert w.ready_files() == []  # changed: settling again
    time.sleep(0.35)
    assert w.ready_files() == [target]


@needs_videos
def test_ready_marker_replaces_the_settlewait_for(tmp_path):
    w = _watcher(tmp_path, settle=3600, ready_marker=".done")
    video = w.directory / "v.wmv"
    video.write_bytes(WMV.read_bytes())
    assert w.ready_files() == [] and w.ready_files() == []
    (w.directory / "v.wmv.done").touch()
    assert w.ready_files() == [video]


@pytest.mark.parametrize("args, message", [
    (["--settle", "-1"], "--settle must be >= 0 seconds, got -1.0"),
    (["--settle", "nan"], "--settle must be >= 0 seconds, got nan"),
    (["--interval", "0"], "--interval must be > 0 seconds, got 0.0"),
    (["--ready-marker", ""], "--ready-marker must be a file name suffix such as .done, got ''"),
])
def test_bad_watch_options_give_one_line_errors(tmp_path, capsys, args, message):
    from vidaffect.cli.main import main

    (tmp_path / "in").mkdir()
    assert main(["watch", str(tmp_path / "in"), "-o", str(tmp_path / "out"), *args]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"vidaffect: error: {message}"


def test_every_command_has_the_same_default_extensions():
    from vidaffect.cli.main import build_parser
    from vidaffect.service.app import ServiceConfig

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command" or getattr(a, "choices", None))
    found = {}
    for name, p in sub.choices.items():
        subs = [a for a in p._actions if getattr(a, "choices", None) and isinstance(a.choices, dict)]
        for cmd in ([(name, p)] + [(f"{name} {n}", q) for s in subs for n, q in s.choices.items()]):
            for a in cmd[1]._actions:
                if a.dest == "video_exts":
                    found[cmd[0]] = a.default
    assert {"analyze", "batch", "watch", "serve", "people discover"} <= set(found), found
    assert set(found.values()) == {DEFAULT_EXTS} and len(DEFAULT_EXTS.split(",")) == 13
    assert ServiceConfig.__dataclass_fields__["exts"].default_factory() == {"." + e for e in DEFAULT_EXTS.split(",")}


@needs_videos
@pytest.mark.integration
def test_watch_burst_writers_give_one_result_and_replaced_files_supersede(tmp_path):
    """Two writers that pause longer than the check interval: a WMV (pauses longer than --settle too: the
    decode check holds it back) and an MPEG-TS (decodes at any length: the settle rule holds it back).
    Each is analysed once, complete; then the TS file is replaced and its new result supersedes the old."""
    drop, out, log = tmp_path / "drop", tmp_path / "out", tmp_path / "watch.log"
    drop.mkdir()
    ts_a = make_variant(SINGLE, tmp_path / "a.ts", "first", "mpegts")
    ts_b = tmp_path / "b.ts"  # other bytes, same video: one MPEG-TS null packet (PID 0x1FFF) more
    ts_b.write_bytes(ts_a.read_bytes() + b"\x47\x1f\xff\x10" + b"\xff" * 184)
    assert ts_a.read_bytes() != ts_b.read_bytes()
    proc = subprocess.Popen([sys.executable, "-m", "vidaffect", "watch", str(drop), "-o", str(out),
                             "--interval", "0.2", "--settle", "0.8", "--end", "0.5", "--no-plot", "--log-file", str(log)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: log.exists() and "watching" in log.read_text(), 60, "the watcher to start")
        wmv, ts = WMV.read_bytes(), ts_a.read_bytes()
        with open(drop / "slow.wmv", "wb") as fw, open(drop / "rec.ts", "wb") as ft:
            for i in range(4):  # 4 bursts each: WMV every 1.2 s (> settle), TS every 0.6 s (< settle, > interval)
                fw.write(wmv[i * len(wmv) // 4:(i + 1) * len(wmv) // 4])
                fw.flush()
                for k in range(2):
                    j = 2 * i + k
                    ft.write(ts[j * len(ts) // 8:(j + 1) * len(ts) // 8])
                    ft.flush()
                    time.sleep(0.6)
                    full = {"slow.wmv": len(wmv), "rec.ts": len(ts)}
                    assert all(j.size == full[j.name] for j in ledger_jobs(out)), "a partial file was picked up"
                    assert not any(j.name == "rec.ts" for j in ledger_jobs(out)), "a file still being written was picked up"
        jobs = wait_for(lambda: (lambda js: js if len(js) == 2 and all(j.state == "done" for j in js) else None)(
            ledger_jobs(out)), 90, "both videos to be analysed")
        assert {Path(j.path).name: j.size for j in jobs} == {"slow.wmv": len(wmv), "rec.ts": len(ts)}
        assert all(j.attempts == 1 for j in jobs)
        assert "settled but incomplete" in log.read_text()  # the WMV between its bursts

        # replace rec.ts in one rename from a dotfile (ignored while it is written)
        tmp = drop / ".rec.ts.incoming"
        tmp.write_bytes(ts_b.read_bytes())
        os.replace(tmp, drop / "rec.ts")
        wait_for(lambda: len([j for j in ledger_jobs(out) if j.state == "done"]) == 2 and len(ledger_jobs(out)) == 3, 60,
              "the replaced file to be analysed")
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(timeout=60)
    jobs = {(Path(j.path).name, j.size, j.state): j for j in ledger_jobs(out)}
    old = next(j for (n, _, s), j in jobs.items() if n == "rec.ts" and s == "superseded")
    new = next(j for (n, _, s), j in jobs.items() if n == "rec.ts" and s == "done")
    assert old.superseded_by == new.id and new.size == len(ts_b.read_bytes())
    df = read_dataset(out)
    assert df.groupby("video_name")["video"].nunique().to_dict() == {"rec.ts": 1, "slow.wmv": 1}
    assert set(df["video"]) == {new.key, next(j.key for j in jobs.values() if j.name == "slow.wmv")}
    assert (out / old.output_paths["dataset"]).is_file() and old.output_paths["dataset"].startswith("superseded/")

    status = subprocess.run([sys.executable, "-m", "vidaffect", "status", str(out)], capture_output=True, text=True)
    assert status.returncode == 0 and f"superseded: {old.path} (job {old.id}" in status.stdout
    assert f"current: job {new.id}" in status.stdout and "2 done" in status.stdout
    as_json = subprocess.run([sys.executable, "-m", "vidaffect", "status", str(out), "--json"], capture_output=True,
                             text=True)
    assert [s["job"] for s in json.loads(as_json.stdout)["superseded"]] == [old.id]
