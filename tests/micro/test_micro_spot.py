"""Micro-expression spotting: synthetic bursts in face crops, and a real video end to end."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from micro_synth import burst_sequence

from vidaffect.micro.spot import REGION_NAMES, region_motion, spot_intervals

FPS = 30.0
VIDEOS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "videos"


@pytest.mark.parametrize("signal", ["flow", "strain"])
def test_spots_a_brief_burst_within_three_frames(signal):
    crops = burst_sequence(n=120, burst_onset=50, half=4, amp=2.0, seed=1)
    motion = region_motion(crops, baseline_frames=61, signal=signal)
    assert motion.shape == (120, len(REGION_NAMES))
    sp = spot_intervals(motion, np.arange(120) / FPS, min_motion=0.02)
    assert len(sp.intervals) == 1
    iv = sp.intervals[0]
    assert abs(iv.apex - 54) <= 3 and abs(iv.onset - 50) <= 3 and abs(iv.offset - 58) <= 3
    assert iv.region.startswith("mouth")
    assert iv.offset_s - iv.onset_s < 0.5 and iv.score > 4


def test_slow_drift_and_noise_give_no_interval():
    crops = burst_sequence(n=120, amp=0.0, drift=0.05, seed=2)
    sp = spot_intervals(region_motion(crops, baseline_frames=61), np.arange(120) / FPS, min_motion=0.05)
    assert sp.intervals == []


def test_spot_intervals_on_a_handmade_signal():
    t = np.arange(300) / FPS
    rng = np.random.default_rng(0)
    sig = 0.5 + 0.2 * np.sin(t / 3) + rng.normal(0, 0.01, t.size)  # slow baseline changes
    sig[100:109] += np.array([0.1, 0.3, 0.6, 0.9, 1.0, 0.9, 0.6, 0.3, 0.1])  # 0.3 s burst, apex 104
    sig[200:245] += 1.0  # 1.5 s plateau: too long for a micro-expression
    sig[280] += 2.0  # one-frame spike: an alignment glitch, too short
    sp = spot_intervals(sig, t)
    assert [(iv.onset, iv.apex, iv.offset) for iv in sp.intervals] == [(101, 104, 107)]
    assert sp.intervals[0].apex_s == pytest.approx(104 / FPS)
    assert sp.threshold > 0 and sp.residual.shape == (300,)


def test_spot_intervals_handles_short_and_nan_signals():
    assert spot_intervals(np.array([1.0, 2.0]), np.array([0.0, 0.1])).intervals == []
    sig = np.full(50, np.nan)
    assert spot_intervals(sig, np.arange(50) / FPS).intervals == []


@pytest.mark.integration
def test_spot_on_real_video_with_checkpoint(tmp_path):
    video = VIDEOS / "single_face.mp4"
    if not video.is_file():
        pytest.skip(f"shared test video {video} not available")
    import torch

    from vidaffect.cli.main import main
    from vidaffect.micro.evaluate import model_config
    from vidaffect.micro.networks import build_network
    from vidaffect.micro.train import MicroTrainConfig
    from vidaffect.models.checkpoint import save_model_checkpoint

    torch.manual_seed(0)
    cfg = MicroTrainConfig(model="DSSN", image_mode=("F", "S"), input_size=48)
    classes = ["negative", "positive", "surprise"]
    ckpt = save_model_checkpoint(tmp_path / "model.safetensors", build_network("DSSN", 3, "add", 48), model_config(cfg, classes))
    # threshold 2: make sure this 2.4 s clip yields at least one interval to classify
    rc = main(["micro", "spot", str(video), "-o", str(tmp_path / "out"), "--checkpoint", str(ckpt), "--threshold", "2", "-q"])
    assert rc == 0
    table = pd.read_csv(tmp_path / "out" / "intervals.csv")
    assert list(table.columns[:12]) == ["face_id", "onset_frame", "apex_frame", "offset_frame", "onset_s", "apex_s",
                                        "offset_s", "duration_s", "score", "peak", "region", "class"]  # fmt: skip
    assert len(table) >= 1 and (table["face_id"] >= 0).all()
    assert (table["onset_frame"] <= table["apex_frame"]).all() and (table["apex_frame"] <= table["offset_frame"]).all()
    assert (table["duration_s"] < 0.5).all() and (table["offset_s"] <= 2.5).all()
    probs = table[[f"p_{c}" for c in classes]].to_numpy()
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    assert set(table["class"]) <= set(classes)
    assert (table["class"] == [classes[i] for i in probs.argmax(1)]).all()
    meta = json.loads((tmp_path / "out" / "intervals.json").read_text())
    assert len(meta["intervals"]) == len(table) and meta["fps"] == pytest.approx(30, abs=0.5)
    motion = pd.read_csv(tmp_path / "out" / "motion.csv")
    assert motion["frame"].nunique() > 60  # one row per frame of the face track
    assert (tmp_path / "out" / "motion.png").read_bytes()[:4] == b"\x89PNG"
