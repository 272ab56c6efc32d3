"""``--model mimamo`` inside the main pipeline, on a real shared video, with checkpoints in the original format."""
from pathlib import Path

import numpy as np
import pytest
import torch

from vidaffect.models.mimamo.network import TwoStreamRNN
from vidaffect.models.mimamo.resnet50_ferplus_dag import Resnet50FerplusDag

VIDEOS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "videos"
VIDEO = VIDEOS / "single_face.mp4"


@pytest.mark.integration
@pytest.mark.skipif(not VIDEO.exists(), reason=f"shared test video {VIDEO} not available")
def test_analyze_with_mimamo_writes_va_for_every_face_row(tmp_path):
    from vidaffect.pipeline.analyzer import analyze

    torch.manual_seed(0)
    ckpt, resnet_ckpt = tmp_path / "model_weights.pth.tar", tmp_path / "resnet50_ferplus_dag.pth"
    state = {f"module.{k}": v for k, v in TwoStreamRNN().state_dict().items()}  # DataParallel-style keys
    torch.save({"state_dict": state, "epoch": 9}, ckpt)
    torch.save(Resnet50FerplusDag().state_dict(), resnet_ckpt)
    res = analyze(VIDEO, model="mimamo", checkpoint=str(ckpt), end=0.5, batch_size=8,
                  model_kwargs={"resnet_checkpoint": str(resnet_ckpt), "legacy_gru_axis": True})
    df = res.frames
    faces = df[df["face_id"] >= 0]
    assert len(faces) >= 8, "the shared video shows a face in most frames"
    assert np.isfinite(faces["valence"]).all() and np.isfinite(faces["arousal"]).all()
    assert df[df["face_id"] < 0]["valence"].isna().all()
    assert res.metadata["va_source"] == "model:mimamo"
    assert res.metadata["model"]["legacy_gru_axis"] is True and res.metadata["model"]["epoch"] == 9
