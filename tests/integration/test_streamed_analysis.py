"""Issue 21 on real videos: rows streamed to disk give the same results as rows kept in memory, and an
interrupted analysis resumed from its restart point gives the same result set as an uninterrupted one."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vidaffect.pipeline import Analyzer
from video_fixtures import shared_video


def assert_same_frames(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    for col in a.columns:
        if pd.api.types.is_numeric_dtype(a[col]) and not pd.api.types.is_bool_dtype(a[col]):
            np.testing.assert_allclose(a[col].to_numpy(float), b[col].to_numpy(float), rtol=1e-6, atol=1e-7,
                                       equal_nan=True, err_msg=col)
        else:
            assert a[col].tolist() == b[col].tolist(), col


def test_rows_streamed_to_disk_equal_rows_kept_in_memory(tmp_path):
    video = shared_video("multi_face.avi")
    opts = dict(end=8.0, smoothing_size=0.4, save_landmarks=True)
    with Analyzer(spill_rows=10**9, **opts) as an:  # nothing written before the end: the whole table at once
        whole = an.analyze(video)
    with Analyzer(spill_rows=37, in_memory_rows=0, **opts) as an:  # parts of 37 rows, results left on disk
        streamed = an.analyze(video)
        assert not streamed.in_memory and streamed.table.is_file()
        spool = streamed.table.parent
        assert not list(spool.glob("rows-*.parquet"))  # the pass's parts are gone once the table is final
    assert whole.in_memory
    assert_same_frames(streamed.frames, whole.frames)
    pd.testing.assert_frame_equal(streamed.summary(), whole.summary())
    pd.testing.assert_frame_equal(streamed.summary(by="person"), whole.summary(by="person"))
    assert len(streamed.landmarks) == len(whole.landmarks) == int((whole.frames["face_id"] >= 0).sum())
    for k in ("faces_found", "face_ids", "frames_analysed"):
        assert streamed.metadata[k] == whole.metadata[k]
    a = whole.save(tmp_path / "whole", ("csv", "json"), plot=True)
    b = streamed.save(tmp_path / "streamed", ("csv", "json"), plot=True)
    for kind in ("csv", "summary", "persons", "events"):
        assert a[kind].read_text() == b[kind].read_text(), kind
    del streamed, an  # the analyser keeps its last results too
    import gc

    gc.collect()
    assert not spool.exists()  # the results' own folder goes with them


def two_shot_video(tmp_path: Path) -> Path:
    """multi_face.avi twice in a row (remuxed): one scene cut at 23.4 s between the copies."""
    from pipeline_speed import concat_video

    return concat_video(shared_video("multi_face.avi"), tmp_path / "two_shots.mkv", 0.5)


def test_resume_after_an_interruption_gives_the_uninterrupted_result_set(tmp_path):
    video = two_shot_video(tmp_path)
    opts = dict(fps=8.0, checkpoint_every_s=10.0)
    with Analyzer(**opts) as an:
        straight = an.analyze(video, spool_dir=tmp_path / "straight")
        assert straight.metadata["tracking"]["tracks"] >= 4  # both shots have their tracks

        real = an.model.process

        def dies_in_the_second_shot(batch):
            if batch.times.max() > 35.0:
                raise RuntimeError("killed")
            return real(batch)

        an.model.process = dies_in_the_second_shot
        spool = tmp_path / "partial"
        with pytest.raises(RuntimeError, match="killed"):
            an.analyze(video, spool_dir=spool)
        point = json.loads((spool / "checkpoint.json").read_text())
        assert 23.0 < point["time_s"] < 24.0 and point["rows"] > 0  # the cut between the copies
        an.model.process = real
        resumed = an.analyze(video, spool_dir=spool, resume=True)
        assert resumed.speed  # timings carried over
    assert_same_frames(resumed.frames, straight.frames)
    pd.testing.assert_frame_equal(resumed.summary(by="person"), straight.summary(by="person"))
    assert resumed.metadata["identity"]["persons"] == straight.metadata["identity"]["persons"]
    assert resumed.metadata["tracking"] == straight.metadata["tracking"]


def test_cli_resume_continues_an_interrupted_run_and_cleans_up(tmp_path, monkeypatch, capsys):
    """``vidaffect analyze --resume`` after Ctrl-C: the rows before the restart point are not analysed again, the
    set equals an uninterrupted run's, and the partial folder is gone; other settings start again."""
    from vidaffect.cli.main import main
    from vidaffect.models.zoo.exprnet import TorchFrameModel

    video = two_shot_video(tmp_path)
    common = [str(video), "-q", "--no-plot", "--fps", "4", "--checkpoint-every", "10"]
    assert main(["analyze", *common, "-o", str(tmp_path / "straight")]) == 0
    real = TorchFrameModel.process
    seen: list[float] = []

    def interrupted(self, batch):
        seen.append(float(batch.times.min()))
        if batch.times.max() > 35.0:
            raise KeyboardInterrupt
        return real(self, batch)

    monkeypatch.setattr(TorchFrameModel, "process", interrupted)
    out = tmp_path / "out"
    assert main(["analyze", *common, "-o", str(out)]) == 130
    err = capsys.readouterr().err
    assert "--resume to continue" in err and (out / ".partial-two_shots" / "checkpoint.json").is_file()
    seen.clear()

    def recorded(self, batch):
        seen.append(float(batch.times.min()))
        return real(self, batch)

    monkeypatch.setattr(TorchFrameModel, "process", recorded)
    assert main(["analyze", *common, "-o", str(out), "--resume"]) == 0
    assert min(seen) > 23.0  # the first shot was not analysed again
    assert not (out / ".partial-two_shots").exists()
    a = pd.read_csv(tmp_path / "straight" / "two_shots.frames.csv")
    b = pd.read_csv(out / "two_shots.frames.csv")
    assert_same_frames(a, b)
    assert (tmp_path / "straight" / "two_shots.persons.csv").read_text() == (out / "two_shots.persons.csv").read_text()
    # interrupted again, then resumed with other settings: analysed from the start
    monkeypatch.setattr(TorchFrameModel, "process", interrupted)
    assert main(["analyze", *common, "-o", str(out)]) == 130
    monkeypatch.setattr(TorchFrameModel, "process", real)
    assert main(["analyze", *common, "-o", str(out), "--resume", "--smoothing-size", "0.5"]) == 0
    assert "no restart point" in capsys.readouterr().err
    assert pd.read_csv(out / "two_shots.frames.csv")["time_s"].min() < 1.0
