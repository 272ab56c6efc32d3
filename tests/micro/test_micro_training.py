"""LOSO training and evaluation of DSSN/SSSN on a synthetic data set (direction of motion = class)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import vidaffect.micro.train as train_mod
from vidaffect.errors import VidaffectError
from vidaffect.micro.datasets import MicroFeatureSet, parse_image_modes, stream_tensors
from vidaffect.micro.evaluate import classification_metrics, evaluate_checkpoints, load_micro_checkpoint
from vidaffect.micro.train import MicroTrainConfig, loso_folds, run_training


def test_loso_folds_hold_out_each_subject_once():
    subjects = np.array(["b", "a", "c", "a", "b", "b", "c"])
    folds = loso_folds(subjects)
    assert [f[0] for f in folds] == ["a", "b", "c"]
    seen = []
    for subject, tr, te in folds:
        assert set(subjects[te]) == {subject}
        assert subject not in set(subjects[tr])
        assert sorted(np.concatenate([tr, te])) == list(range(len(subjects)))
        seen += te.tolist()
    assert sorted(seen) == list(range(len(subjects)))


def test_metrics_by_hand():
    # true: 0 0 0 1 ; pred: 0 0 1 1 -> acc 0.75; recalls 2/3, 1 -> UAR 5/6; F1: 0.8, 2/3 -> UF1 0.7333
    m = classification_metrics([0, 0, 0, 1], [0, 0, 1, 1], 2)
    assert m["accuracy"] == pytest.approx(0.75)
    assert m["uar"] == pytest.approx(5 / 6)
    assert m["uf1"] == pytest.approx((0.8 + 2 / 3) / 2)
    assert m["weighted_f1"] == pytest.approx(0.75 * 0.8 + 0.25 * 2 / 3)


def test_image_modes_build_u_v_map_streams(micro_cache):
    data = MicroFeatureSet(micro_cache, input_size=48)
    assert parse_image_modes(["F", "G"]) == ("F", "G") and parse_image_modes("S") == ("S",)
    with pytest.raises(VidaffectError):
        parse_image_modes(["F", "G", "S"])
    with pytest.raises(VidaffectError):
        parse_image_modes(["X"])
    f, g = stream_tensors(data.features[:2], ("F", "G"))
    assert f.shape == g.shape == (2, 3, 48, 48)
    np.testing.assert_allclose(f[:, :2].numpy(), g[:, :2].numpy())  # both streams share u, v
    assert not np.allclose(f[:, 2].numpy(), g[:, 2].numpy())  # third channel: magnitude vs gray
    # ImageNet normalisation of u: (x/255 - 0.485) / 0.229
    np.testing.assert_allclose(f[0, 0].numpy(), (data.features[0, 0] / 255 - 0.485) / 0.229, rtol=1e-5, atol=1e-5)


def test_loso_training_beats_chance_without_leaking_subjects(micro_cache, tmp_path, monkeypatch):
    data = MicroFeatureSet(micro_cache, input_size=48)
    assert data.classes == ("down", "left", "right", "up") and len(set(data.subjects)) == 4
    seen: list[set[str]] = []
    real = train_mod.train_network

    def spy(d, indices, cfg, seed, log=None):
        seen.append(set(d.subjects[indices]))
        return real(d, indices, cfg, seed, log)

    monkeypatch.setattr(train_mod, "train_network", spy)
    cfg = MicroTrainConfig(model="DSSN", image_mode=("F", "G"), epochs=3, batch_size=8, learning_rate=1e-3, input_size=48)
    result = run_training(data, cfg, tmp_path / "run", progress=False)

    subjects = sorted(set(data.subjects))
    assert [r["subject"] for r in result["folds"]] == subjects
    for held_out, train_subjects in zip(subjects, seen):
        assert held_out not in train_subjects and train_subjects == set(subjects) - {held_out}
    preds = pd.read_csv(tmp_path / "run" / "predictions.csv", dtype={"subject": str, "fold": str})
    assert (preds["subject"] == preds["fold"]).all() and len(preds) == len(data)
    assert result["pooled"]["accuracy"] >= 0.6  # chance is 0.25 with 4 balanced classes
    assert result["pooled"]["uf1"] >= 0.5 and result["pooled"]["uar"] >= 0.6

    table = pd.read_csv(tmp_path / "run" / "results.csv", dtype={"subject": str})
    assert list(table["row"]) == ["fold"] * 4 + ["mean_over_folds", "pooled"]
    assert table.iloc[-1]["accuracy"] == pytest.approx(result["pooled"]["accuracy"])
    assert (tmp_path / "run" / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert np.array(saved["confusion_matrix"]).sum() == len(data)

    # eval of the run folder: each fold checkpoint on its held-out subject reproduces the training metrics
    again = evaluate_checkpoints(tmp_path / "run", micro_cache, tmp_path / "eval")
    assert again["pooled"] == pytest.approx(result["pooled"])
    net, ckpt_cfg = load_micro_checkpoint(tmp_path / "run" / "folds" / f"fold_{subjects[0]}.safetensors")
    assert ckpt_cfg["classes"] == list(data.classes) and ckpt_cfg["held_out_subject"] == subjects[0]


def test_training_config_errors(micro_cache, tmp_path):
    data = MicroFeatureSet(micro_cache, input_size=48)
    with pytest.raises(VidaffectError, match="takes 2 image mode"):
        run_training(data, MicroTrainConfig(model="DSSN", image_mode=("F",), input_size=48), tmp_path)
    with pytest.raises(VidaffectError, match="num_classes 5 but the data has 4"):
        run_training(data, MicroTrainConfig(num_classes=5, input_size=48), tmp_path)
    with pytest.raises(VidaffectError, match="no manifest"):
        MicroFeatureSet(tmp_path / "nothing")
    subset = MicroFeatureSet(micro_cache, input_size=48, classes=["up", "down"])
    assert subset.classes == ("up", "down") and len(subset) == 16


def test_relabel_from_annotation_csv(micro_cache, tmp_path):
    full = MicroFeatureSet(micro_cache, input_size=48)
    table = full.table
    # CASME II CSV style: subject "01" for folder sub01; keep 3 samples, relabel one
    rows = [(s.removeprefix("sub"), c, e) for s, c, e in zip(table["subject"][:3], table["clip"][:3], table["emotion"][:3])]
    rows[0] = (rows[0][0], rows[0][1], "others")
    csv = tmp_path / "labels.csv"
    csv.write_text("Subject,Filename,OnsetFrame,Estimated Emotion\n" + "".join(f"{s},{c},1,{e}\n" for s, c, e in rows))
    sub = MicroFeatureSet(micro_cache, input_size=48, labels_csv=csv)
    assert len(sub) == 3 and list(sub.table["clip"]) == list(table["clip"][:3])
    assert sub.table["emotion"][0] == "others" and "others" in sub.classes
    np.testing.assert_array_equal(sub.features, full.features[:3])
