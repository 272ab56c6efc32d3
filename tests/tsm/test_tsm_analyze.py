"""``resnet18-tsm`` inside the main pipeline, on a real shared video (skipped when the videos are absent)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vidaffect.labels import EMOTIONS
from vidaffect.models.tsm import ResNet18TSM
from vidaffect.models.tsm.checkpoint import save_tsm_checkpoint

VIDEOS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "videos"
VIDEO = VIDEOS / "single_face.mp4"
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not VIDEO.is_file(), reason=f"shared test video {VIDEO} not available"),
]
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def random_checkpoint(tmp_path_factory) -> str:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tsm") / "random"
    return str(save_tsm_checkpoint(path, ResNet18TSM(7, 4, width=16).eval(), input_size=64))


def test_analyze_gives_one_class_per_face_frame(random_checkpoint: str) -> None:
    from vidaffect.pipeline import analyze

    res = analyze(VIDEO, model="resnet18-tsm", checkpoint=random_checkpoint)
    df = res.frames
    faces = df[df.face_id >= 0]
    assert len(faces) > 30  # a face in most of the 72 frames
    assert df.frame.nunique() == df.frame.max() + 1  # every analysed frame has a row
    probs = faces[list(EMOTIONS)].to_numpy()
    assert np.isfinite(probs).all() and np.allclose(probs.sum(1), 1, atol=1e-4)
    assert faces.emotion.isin(EMOTIONS).all()
    assert (faces.emotion.to_numpy() == np.array(EMOTIONS)[probs.argmax(1)]).all()
    model = res.metadata["model"]
    assert model["name"] == "resnet18-tsm" and model["temporal"] and model["crop"]["kind"] == "square"


def test_build_sequences_from_a_real_video(tmp_path: Path, capsys) -> None:
    from vidaffect.cli.main import main
    from vidaffect.data.sequences import load_face_sequences

    assert main(["build-sequences", str(VIDEO), "--out", str(tmp_path), "--label", "happy", "--size", "32",
                 "--fps", "10"]) == 0
    assert "clips written" in capsys.readouterr().out
    data = load_face_sequences(tmp_path, size=32)
    assert data.num_frames >= 4 and all(set(c.labels.tolist()) == {EMOTIONS.index("happy")} for c in data.clips)
    assert data.clips[0].frames.std() > 5  # real image content, not padding
