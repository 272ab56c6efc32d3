"""Shared pieces of ``eval expressions``, ``calibrate expressions`` and the speed tools: one-pass evaluation of a
calibrated model, class matching, temperature scoring, timing."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from vidaffect.data.expressions.base import DatasetError, ExpressionData
from vidaffect.evaluation.calibration import ece_at, fit_and_score, nll, score_temperature
from vidaffect.evaluation.expressions import evaluate_calibrated, evaluate_model, model_labels, uncalibrated
from vidaffect.labels import EMOTIONS, EMOTIONS_8
from vidaffect.models.base import CropSpec, FrameEmotionModel
from vidaffect.models.checkpoint import save_model_checkpoint
from vidaffect.models.exprnet import ExprNet
from vidaffect.training.expressions import TrainConfig, model_config

from expressions_synth import REPO, face


def _model(tmp_path, temperature: float | None):
    from vidaffect.models import create_model

    torch.manual_seed(0)
    cfg = model_config(TrainConfig(width=8), EMOTIONS)
    if temperature is not None:
        cfg["calibration"] = {"temperature": temperature}
    return create_model(str(save_model_checkpoint(tmp_path / "net", ExprNet(7, 8).eval(), cfg)))


def _data(n: int = 40) -> ExpressionData:
    """Faces of the 8 classes of EMOTIONS_8: contempt is unknown to a 7-class model."""
    labels = np.arange(n) % 8
    images = np.stack([face(int(c) % 7, i) for i, c in enumerate(labels)])
    return ExpressionData(images, labels, EMOTIONS_8, [f"img{i}.png" for i in range(n)])


def _same(a, b) -> None:
    np.testing.assert_allclose(a.probs, b.probs, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(a.y_pred, b.y_pred)
    np.testing.assert_array_equal(a.y_true, b.y_true)
    assert a.report.accuracy == b.report.accuracy and a.report.macro_f1 == b.report.macro_f1
    assert a.calibration.ece == pytest.approx(b.calibration.ece, abs=1e-9)
    assert a.paths == b.paths and a.skipped == b.skipped


@pytest.mark.parametrize("tta_flip", [False, True])
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_one_pass_equals_a_calibrated_and_a_real_uncalibrated_evaluation(tmp_path, tta_flip, precision):
    model = _model(tmp_path, 2.5)
    model.set_precision(precision)
    data = _data()
    result, before = evaluate_calibrated(model, data, batch_size=16, tta_flip=tta_flip)
    assert model.temperature == 2.5 and model.tta_flip is False  # left as it was
    _same(result, evaluate_model(model, data, batch_size=16, tta_flip=tta_flip))
    with uncalibrated(model):
        assert model.temperature == 1.0
        _same(before, evaluate_model(model, data, batch_size=16, tta_flip=tta_flip))
    assert model.temperature == 2.5
    assert result.skipped == {"contempt": 5} and len(result.y_true) == 35
    assert (before.probs.max(1) > result.probs.max(1)).all()  # T > 1: the calibrated probabilities are softer
    assert before.calibration.ece != result.calibration.ece


def test_uncalibrated_model_is_evaluated_once(tmp_path):
    model = _model(tmp_path, None)
    result, before = evaluate_calibrated(model, _data(), batch_size=16)
    assert before is None
    _same(result, evaluate_model(model, _data(), batch_size=16))


class _Hot(FrameEmotionModel):
    """A frame model with a temperature but no logits: evaluated twice, the second time at T = 1."""

    name = "hot"
    classes = EMOTIONS
    crop = CropSpec(size=8, color="gray")

    def __init__(self):
        self.temperature, self.calls = 2.0, []

    def set_temperature(self, t):
        self.temperature = t

    def predict(self, crops):
        self.calls.append(self.temperature)
        z = np.eye(7, dtype=np.float32)[crops[:, 0, 0].astype(int) % 7] * 3
        return torch.softmax(torch.from_numpy(z) / self.temperature, 1).numpy(), None


def test_other_calibrated_models_are_run_again_without_their_temperature():
    model = _Hot()
    data = ExpressionData(np.arange(14, dtype=np.uint8)[:, None, None].repeat(8, 1).repeat(8, 2),
                          np.arange(14) % 7, EMOTIONS)
    result, before = evaluate_calibrated(model, data, batch_size=8)
    assert model.calls == [2.0, 2.0, 1.0, 1.0] and model.temperature == 2.0
    assert result.report.accuracy == before.report.accuracy == 1.0
    assert before.probs.max() > result.probs.max()


def test_class_matching_errors_are_unchanged(tmp_path):
    model = _model(tmp_path, None)
    other = ExpressionData(np.zeros((2, 48, 48), np.uint8), np.array([0, 1]), ("cat", "dog"))
    with pytest.raises(DatasetError, match=r"share nothing with data classes \['cat', 'dog'\]"):
        evaluate_model(model, other)
    with pytest.raises(DatasetError, match=r"share no images with data classes \['cat', 'dog'\]"):
        model_labels(model, other)
    # a shared class name without images: evaluation scores nothing, the temperature fit refuses
    no_images = ExpressionData(np.zeros((2, 48, 48), np.uint8), np.array([0, 0]), ("cat", "happy"))
    with pytest.raises(DatasetError, match="share no images"):
        model_labels(model, no_images)
    model.classes = ()
    for fn in (evaluate_model, model_labels):
        with pytest.raises(DatasetError, match="predicts no classes"):
            fn(model, other)


def test_model_labels_index_the_model_classes(tmp_path):
    model = _model(tmp_path, None)
    data = _data(16)
    images, labels = model_labels(model, data)
    keep = data.labels != 7  # contempt left out
    assert images.shape == (14, 48, 48) and (images == data.images[keep]).all()
    assert [model.classes[i] for i in labels] == [EMOTIONS_8[c] for c in data.labels[keep]]


def test_score_temperature_is_the_fit_reports_metric_set():
    rng = np.random.default_rng(0)
    z, y = rng.normal(0, 3, (500, 7)), rng.integers(0, 7, 500)
    t = 1.7
    s = score_temperature(z, y, t)
    assert (s.temperature, s.samples) == (t, 500)
    assert s.accuracy == float((z.argmax(1) == y).mean())
    assert (s.nll_before, s.nll_after, s.ece_before, s.ece_after) == (nll(z, y), nll(z, y, t), ece_at(z, y),
                                                                      ece_at(z, y, t))
    fit = fit_and_score(z, y)
    assert fit == score_temperature(z, y, fit.temperature)
    with pytest.raises(ValueError, match="no samples"):
        score_temperature(np.zeros((0, 7)), np.zeros(0, int), t)


def test_time_calls_counts_warmup_repeats_and_runs():
    from vidaffect.evaluation.speed import random_crops, time_calls

    calls = []
    times = time_calls(lambda: calls.append(1), repeats=3, runs=4, warmup=2)
    assert len(times) == 3 and len(calls) == 2 + 3 * 4 and all(t >= 0 for t in times)
    assert len(time_calls(lambda: None, repeats=1, seconds=0.05)) > 1  # more repeats until the time is up

    class M:
        crop = CropSpec(size=8, color="rgb")

    crops = random_crops(M(), 5)
    assert crops.shape == (5, 8, 8, 3) and crops.dtype == np.uint8
    assert (crops == random_crops(M(), 5)).all()  # seed 0 by default
    rng = np.random.default_rng(0)
    M.crop = CropSpec(size=8, color="gray")
    assert random_crops(M(), 1, rng).shape == (1, 8, 8)


def test_benchmark_times_with_the_package_timer(tmp_path):
    spec = importlib.util.spec_from_file_location("model_speed", Path(REPO) / "benchmarks" / "model_speed.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    ms, fps = bench.bench(_model(tmp_path, 1.5), seconds=0.0)
    assert ms > 0 and fps > 0
