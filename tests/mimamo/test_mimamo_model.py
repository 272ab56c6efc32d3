"""The ``mimamo`` EmotionModel: snippet windowing, per-track streaming, gaps, finish()."""
import numpy as np
import pytest
import torch

from vidaffect.errors import ModelError
from vidaffect.models import FaceBatch, create_model
from vidaffect.models.mimamo.checkpoints import save_mimamo_checkpoint
from vidaffect.models.mimamo.network import TwoStreamRNN
from vidaffect.models.mimamo.sampler import merge_window_predictions, snippet_windows


@pytest.mark.parametrize("n,length,stride,expected", [
    (10, 4, 4, [(0, 4), (4, 8), (6, 10)]),  # last window aligned to the end
    (8, 4, 4, [(0, 4), (4, 8)]),
    (3, 4, 4, [(0, 3)]),  # short clip: one window of its own length
    (10, 4, 2, [(0, 4), (2, 6), (4, 8), (6, 10)]),
    (11, 6, 3, [(0, 6), (3, 9), (5, 11)]),
    (0, 4, 4, []),
])
def test_snippet_windows(n, length, stride, expected):
    assert snippet_windows(n, length, stride) == expected


def test_later_windows_win():
    wins = [(0, 4), (2, 6)]
    out = merge_window_predictions(6, wins, [np.zeros((4, 2)), np.ones((4, 2))])
    assert out[:2].sum() == 0 and (out[2:] == 1).all()


def _model(length=16, stride=8):
    torch.manual_seed(0)
    m = create_model("mimamo", pretrained=False, length=length, stride=stride)
    # the ResNet-50 is tested on its own; a cheap deterministic stand-in keeps this test fast
    m.runner.resnet_features = lambda crops: torch.from_numpy(
        np.repeat(crops.reshape(len(crops), -1, 3).mean(1) / 255.0, 683, axis=1)[:, :2048].astype(np.float32))
    return m


def _crops(n, seed):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (112, 112, 3)).astype(np.float32)
    shifts = np.cumsum(rng.integers(-2, 3, n))
    return np.stack([np.roll(base, s, axis=1) for s in shifts]).astype(np.uint8)


def test_describe_and_contract(tmp_path):
    m = _model()
    d = m.describe()
    assert d["va_source"] == "model:mimamo" and d["temporal"] is True and d["classes"] == []
    assert (m.crop.size, m.crop.color, m.crop.kind) == (112, "rgb", "aligned")
    with pytest.raises(ModelError, match="checkpoint"):
        create_model("mimamo")
    ckpt = save_mimamo_checkpoint(tmp_path / "model_weights.pth.tar", TwoStreamRNN(), epoch=1)
    with pytest.raises(ModelError, match="--resnet-checkpoint"):
        create_model("mimamo", checkpoint=ckpt)


def test_streaming_two_tracks_with_gaps_equals_offline():
    m = _model(length=12, stride=6)
    n_frames = 30
    crops = {1: _crops(n_frames, 1), 2: _crops(n_frames, 2)}
    present = {1: np.ones(n_frames, bool), 2: np.random.default_rng(3).random(n_frames) > 0.3}
    present[2][8:12] = False  # track 2 vanishes for a while
    rows, answers = {}, {}
    row = 0
    track_rows = {1: [], 2: []}
    for f0 in range(0, n_frames, 5):  # batches of 5 frames, both faces mixed
        c, r, fid, fi = [], [], [], []
        for f in range(f0, min(n_frames, f0 + 5)):
            for t in (2, 1):
                if present[t][f]:
                    c.append(crops[t][f]); r.append(row); fid.append(t); fi.append(f)
                    track_rows[t].append((row, f)); row += 1
        b = FaceBatch(np.stack(c), np.array(r), np.array(fid), np.array(fi), np.array(fi) / 30.0)
        for out in m.process(b):
            for k, rid in enumerate(out.row_ids):
                assert int(rid) not in answers, "a row was answered twice"
                answers[int(rid)] = (out.valence[k], out.arousal[k])
    assert len(answers) > 0, "full windows must be answered before finish()"
    for out in m.finish():
        for k, rid in enumerate(out.row_ids):
            assert int(rid) not in answers
            answers[int(rid)] = (out.valence[k], out.arousal[k])
    assert sorted(answers) == list(range(row))  # every row answered exactly once
    for t in (1, 2):
        frames = [f for _, f in track_rows[t]]
        track_crops = crops[t][frames]
        offline = m.runner.predict_clip(m.runner.gray(track_crops), m.runner.resnet_features(track_crops))
        streamed = np.array([answers[r] for r, _ in track_rows[t]])
        np.testing.assert_allclose(streamed, offline, atol=1e-5)
    m.reset()
    assert m.finish() == []


def test_short_track_answered_at_finish():
    m = _model(length=8, stride=8)
    c = _crops(5, 4)
    b = FaceBatch(c, np.arange(5), np.zeros(5, np.int64), np.arange(5), np.arange(5) / 30.0)
    assert m.process(b) == []
    outs = m.finish()
    assert sorted(int(r) for o in outs for r in o.row_ids) == list(range(5))
    assert all(np.isfinite(o.valence).all() and np.isfinite(o.arousal).all() for o in outs)
