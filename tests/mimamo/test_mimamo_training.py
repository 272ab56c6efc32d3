"""Training on a synthetic task where valence/arousal are known functions of facial motion."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from vidaffect.errors import VidaffectError
from vidaffect.evaluation.va_metrics import ccc, pcc, rescale_predictions, rmse, va_report
from vidaffect.models.mimamo.checkpoints import load_strict, read_mimamo_checkpoint
from vidaffect.models.mimamo.dataset import FaceDataset
from vidaffect.models.mimamo.network import TwoStreamRNN
from vidaffect.training.mimamo import MimamoTrainConfig, ccc_loss, kfold_videos, train_mimamo


def make_synthetic_set(root, n_videos=4, n_frames=24, seed=0):
    """Original layout: crops, per-frame features (uninformative noise), annotations.

    The crop is a static texture except a central "mouth" patch whose texture slides horizontally
    at a speed that changes over time (global motion is removed by the phase input's mean subtraction,
    local motion is not); valence = speed / 2 - 1, arousal = 1 - speed / 2 (speed in 0..4 px/frame)."""
    rng = np.random.default_rng(seed)
    crops_root, feat_root, ann = root / "crops", root / "features", root / "annotations"
    videos = []
    for v in range(n_videos):
        name = f"video{v}"
        videos.append(name)
        (crops_root / name / f"{name}_aligned").mkdir(parents=True)
        (feat_root / name).mkdir(parents=True)
        texture = rng.integers(0, 255, (112, 224, 3)).astype(np.uint8)
        texture = np.asarray(Image.fromarray(texture).resize((56, 56)).resize((224, 112), Image.BILINEAR))
        speed = np.clip(2 + 2 * np.sin(np.arange(n_frames) / 3.0 + v), 0, 4)
        pos = np.cumsum(speed)
        val, aro = [], []
        for f in range(n_frames):
            shift = int(round(pos[f])) % 112
            img = texture[:, :112].copy()
            img[40:90, 30:82] = texture[40:90, 112 + (shift % 60):112 + (shift % 60) + 52]
            Image.fromarray(img).save(
                crops_root / name / f"{name}_aligned" / f"frame_det_00_{f + 1:06d}.bmp")
            np.save(feat_root / name / f"{f + 1:05d}.npy", rng.normal(0, 1, 2048).astype(np.float32))
            val.append(speed[f] / 2 - 1)
            aro.append(1 - speed[f] / 2)
        for label, values in (("valence", val), ("arousal", aro)):
            (ann / "train" / label).mkdir(parents=True, exist_ok=True)
            (ann / "train" / label / f"{name}.txt").write_text("\n".join(f"{x:.4f}" for x in values) + "\n")
    return crops_root, feat_root, ann, videos


def test_metrics_on_known_series():
    t = np.linspace(-1, 1, 50)
    assert ccc(t, t) == pytest.approx(1.0) and pcc(2 * t + 1, t) == pytest.approx(1.0)
    assert ccc(2 * t + 1, t) < 0.6  # CCC penalises scale and offset, PCC does not
    assert rmse(t + 0.5, t) == pytest.approx(0.5)
    rep = va_report(np.stack([t, -t], 1), np.stack([t, t], 1))
    assert rep["valence"]["ccc"] == pytest.approx(1.0) and rep["arousal"]["ccc"] == pytest.approx(-1.0)
    r = rescale_predictions(np.stack([0.1 * t, t], 1), train_std=np.array([1.0, 1.0]))
    assert r[:, 0].std() == pytest.approx(1.0, rel=1e-4) and r[:, 0].mean() == pytest.approx(0.0, abs=1e-6)
    assert float(ccc_loss(torch.tensor(np.stack([t, t], 1)), torch.tensor(np.stack([t, t], 1)))) == \
        pytest.approx(-2.0)


def test_dataset_layout_windows_and_cache(tmp_path):
    crops, feats, ann, videos = make_synthetic_set(tmp_path, n_videos=2, n_frames=20)
    (feats / "video0" / "00005.npy").unlink()  # a frame without features is skipped
    ds = FaceDataset(crops, feats, ann, videos, length=8, stride=4, cache_dir=tmp_path / "cache")
    assert len(ds.videos[0]["frames"]) == 19 and 5 not in ds.videos[0]["frames"]
    assert [(s, e) for v, s, e in ds.items if v == 1] == [(0, 8), (4, 12), (8, 16), (12, 20)]
    assert [(s, e) for v, s, e in ds.items if v == 0][-1] == (11, 19)  # last window aligned to the end
    ds.prepare_cache()
    assert (tmp_path / "cache" / "video0" / "phase_l1.npy").is_file()
    (l1, l2), rgb, labels, rng, name = ds[0]
    assert l1.shape == (8, 24, 48, 48) and l2.shape == (8, 24, 24, 24) and rgb.shape == (8, 2048)
    assert labels.shape == (8, 2) and tuple(rng) == (0, 8) and name == "video0"
    # the cache holds what the direct computation gives (float16 storage)
    direct = FaceDataset(crops, feats, ann, videos, length=8, stride=4, augment=False)
    (d1, d2), *_ = direct[0]
    assert torch.allclose(l1, d1, atol=2e-2) and torch.allclose(l2, d2, atol=2e-2)
    test = FaceDataset(crops, feats, None, videos, test_mode=True, length=8)
    assert (test[0][2] == -100).all() and [(s, e) for v, s, e in test.items if v == 1] == [(0, 8), (8, 16), (12, 20)]
    with pytest.raises(VidaffectError, match="annotation"):
        FaceDataset(crops, feats, tmp_path / "nowhere", videos)


def test_kfold_splits_cover_every_video_once():
    splits = kfold_videos([f"v{i}" for i in range(7)], 3, seed=1)
    vals = [v for _, val in splits for v in val]
    assert sorted(vals) == [f"v{i}" for i in range(7)]
    assert all(not set(tr) & set(val) for tr, val in splits)


def _batch_stat_loss(net, ds):
    """CCC loss over every video, BatchNorm on each video's own statistics and dropout off.

    A dozen SGD steps teach the mapping but leave BatchNorm running averages far from converged
    (momentum 0.1), so the check normalises with each clip's statistics instead."""
    net.eval()
    for m in net.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.train()
    losses = []
    with torch.no_grad():
        for vid, rec in enumerate(ds.videos):
            l1, l2, rgb, lab = ds.video_inputs(vid, 0, len(rec["frames"]))
            losses.append(float(ccc_loss(net(l1[None], l2[None], rgb[None]), lab[None])))
    return float(np.mean(losses))


def test_training_reduces_ccc_loss_on_motion_task(tmp_path):
    crops, feats, ann, videos = make_synthetic_set(tmp_path, n_videos=4, n_frames=18)
    cfg = MimamoTrainConfig(out_dir=str(tmp_path / "run"), epochs=4, batch_size=2, lr=0.01, length=6, stride=6,
                            folds=2, only_fold=0, patience=5)
    ds = FaceDataset(crops, feats, ann, videos, length=6, stride=6, cache_dir=tmp_path / "cache")
    torch.manual_seed(0)
    before = _batch_stat_loss(TwoStreamRNN(), ds)
    logs = []
    summary = train_mimamo(crops, ann, videos, feature_path=feats, cache_dir=tmp_path / "cache", config=cfg,
                           log=logs.append)
    fold = summary["folds"][0]
    assert fold["epochs"] == 4 and len(fold["val_videos"]) == 2 and any("epoch 3" in s for s in logs)
    state, meta = read_mimamo_checkpoint(tmp_path / "run" / "fold_0_checkpoint.pth.tar")
    assert meta["epoch"] == 3 and meta["gru_axis"] == "time"
    trained = TwoStreamRNN()
    load_strict(trained, state, "fold_0_checkpoint.pth.tar")
    after = _batch_stat_loss(trained, ds)
    assert after < before - 0.5, (before, after)  # CCC loss is -(ccc_v + ccc_a), in [-2, 2]
    assert fold["history"][-1]["train_loss"] < -0.5
    assert (tmp_path / "run" / "fold_0_best_ccc.pth.tar").is_file()
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["folds"][0]["fold"] == 0
