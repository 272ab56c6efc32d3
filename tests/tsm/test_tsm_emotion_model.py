"""The ``resnet18-tsm`` analyze model on synthetic FaceBatches, and checkpoint round-trips."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vidaffect.errors import ModelError
from vidaffect.models import CropSpec, FaceBatch, create_model
from vidaffect.models.checkpoint import CheckpointError, save_model_checkpoint
from vidaffect.models.tsm import ResNet18TSM
from vidaffect.models.tsm.checkpoint import load_tsm_checkpoint, save_tsm_checkpoint

torch.set_num_threads(1)
SIZE = 32


def _batch(crops: np.ndarray, face_ids: list[int], frames: list[int], fps: float = 25.0,
           first_row: int = 0) -> FaceBatch:
    n = len(face_ids)
    return FaceBatch(crops, np.arange(first_row, first_row + n), np.asarray(face_ids, np.int64),
                     np.asarray(frames, np.int64), np.asarray(frames, np.float64) / fps)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> str:
    torch.manual_seed(3)
    net = ResNet18TSM(7, buffer_length=4, width=16)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
    path = tmp_path_factory.mktemp("ckpt") / "tsm"
    return str(save_tsm_checkpoint(path, net.eval(), input_size=SIZE))


@pytest.fixture(scope="module")
def crops() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (12, SIZE, SIZE, 3), dtype=np.uint8)


def _fresh(checkpoint: str):
    return create_model("resnet18-tsm", checkpoint=checkpoint)


def test_needs_a_checkpoint_and_declares_its_crop(checkpoint: str) -> None:
    with pytest.raises(ModelError, match="checkpoint"):
        create_model("resnet18-tsm")
    m = _fresh(checkpoint)
    assert m.temporal
    assert m.crop == CropSpec(size=SIZE, color="rgb", kind="square", margin=0.5)
    assert create_model("resnet18-tsm", checkpoint=checkpoint, input_size=64).crop.size == 64
    assert create_model("resnet18-tsm", pretrained=False).crop.size == 224
    assert m.describe()["buffer_length"] == 4


def test_prediction_uses_the_track_buffer(checkpoint: str, crops: np.ndarray) -> None:
    m = _fresh(checkpoint)
    probs = []
    for k in range(6):  # one face over 6 frames
        out = m.process(_batch(crops[k : k + 1], [7], [k], first_row=k))
        assert len(out) == 1 and out[0].row_ids.tolist() == [k]
        probs.append(out[0].probs[0])
    probs = np.stack(probs)
    assert probs.shape == (6, 7) and np.allclose(probs.sum(1), 1, atol=1e-5)
    # frame 5 = mean logits of the last 2 steps of the clip of frames 2..5
    expected = torch.softmax(m.clip_logits(crops[None, 2:6]), 1).numpy()[0]
    assert np.allclose(probs[5], expected, atol=1e-5)
    # frame 1: the buffer is padded at the front with the oldest crop
    expected = torch.softmax(m.clip_logits(crops[None, [0, 0, 0, 1]]), 1).numpy()[0]
    assert np.allclose(probs[1], expected, atol=1e-5)
    # the first frame of a track is the frame-mode prediction of its crop
    assert np.allclose(probs[0], m.predict(crops[:1])[0][0], atol=1e-5)
    assert not np.allclose(probs[5], m.predict(crops[5:6])[0][0], atol=1e-4)  # history matters


def test_tracks_are_independent_and_batched(checkpoint: str, crops: np.ndarray) -> None:
    alone = _fresh(checkpoint)
    a = [alone.process(_batch(crops[k : k + 1], [1], [k]))[0].probs[0] for k in range(5)]
    both = _fresh(checkpoint)
    got = []
    for k in range(5):  # track 1 and track 2 in the same batches
        out = both.process(_batch(np.stack([crops[k], crops[11 - k]]), [1, 2], [k, k]))
        assert out[0].probs.shape == (2, 7)
        got.append(out[0].probs[0])
    assert np.allclose(np.stack(got), np.stack(a), atol=1e-5)
    # several frames of one track in one batch give the same answers as one batch per frame
    multi = _fresh(checkpoint)
    out = multi.process(_batch(crops[:5], [1] * 5, list(range(5))))
    assert np.allclose(out[0].probs, np.stack(a), atol=1e-5)


def test_buffer_restarts_after_a_gap_and_on_reset(checkpoint: str, crops: np.ndarray) -> None:
    m = _fresh(checkpoint)
    for k in range(4):
        m.process(_batch(crops[k : k + 1], [1], [k]))
    late = m.process(_batch(crops[4:5], [1], [100]))[0].probs[0]  # 4 s later: a new buffer
    assert np.allclose(late, m.predict(crops[4:5])[0][0], atol=1e-5)
    m.reset()
    again = m.process(_batch(crops[5:6], [1], [101]))[0].probs[0]
    assert np.allclose(again, m.predict(crops[5:6])[0][0], atol=1e-5)


def test_rejects_crops_of_the_wrong_shape(checkpoint: str) -> None:
    m = _fresh(checkpoint)
    with pytest.raises(ModelError, match="expected RGB crops"):
        m.process(_batch(np.zeros((1, SIZE, SIZE), np.uint8), [0], [0]))
    assert m.process(_batch(np.zeros((0, SIZE, SIZE, 3), np.uint8), [], [])) == []


def test_checkpoint_round_trip(tmp_path, checkpoint: str, crops: np.ndarray) -> None:
    net, cfg = load_tsm_checkpoint(checkpoint)
    assert cfg["arch"] == "resnet18-tsm" and cfg["input"]["size"] == SIZE and cfg["input"]["margin"] == 0.5
    copy = save_tsm_checkpoint(tmp_path / "copy", net, input_size=SIZE, extra={"val_acc": 0.5})
    net2, cfg2 = load_tsm_checkpoint(copy)
    for k, v in net.state_dict().items():
        assert torch.equal(v, net2.state_dict()[k]), k
    assert cfg2["val_acc"] == 0.5
    # the model built from the file predicts what the network does, also when named by its path
    m = create_model(str(copy))
    x = torch.from_numpy(crops[:2]).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        want = torch.softmax(net(x), 1).numpy()
    assert np.allclose(m.predict(crops[:2])[0], want, atol=1e-5)


def test_bad_checkpoints_raise_one_line_errors(tmp_path, checkpoint: str) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        create_model("resnet18-tsm", checkpoint=tmp_path / "missing.safetensors")
    other = save_model_checkpoint(tmp_path / "other", torch.nn.Linear(2, 2), {"arch": "exprnet"})
    with pytest.raises(CheckpointError, match="architecture"):
        create_model("resnet18-tsm", checkpoint=other)
    small = save_model_checkpoint(tmp_path / "small", torch.nn.Linear(2, 2),
                                  json.loads(open(checkpoint.replace(".safetensors", ".json")).read()))
    with pytest.raises(CheckpointError, match="does not match"):
        create_model("resnet18-tsm", checkpoint=small)


def test_frame_model_for_still_image_evaluation(checkpoint: str, crops: np.ndarray) -> None:
    from vidaffect.models import FrameEmotionModel

    frame = create_model("resnet18-tsm-frame", checkpoint=checkpoint)
    assert isinstance(frame, FrameEmotionModel) and not frame.temporal
    assert frame.crop == _fresh(checkpoint).crop
    probs, va = frame.predict(crops[:3])
    assert va is None and probs.shape == (3, 7)
    assert np.allclose(probs, _fresh(checkpoint).predict(crops[:3])[0], atol=1e-6)
    # stateless: the same crop gives the same answer whatever came before
    out = frame.process(_batch(crops[:3], [5, 5, 5], [0, 1, 2]))[0].probs
    assert np.allclose(out, probs, atol=1e-6)
    with pytest.raises(ModelError, match="checkpoint"):
        create_model("resnet18-tsm-frame")
