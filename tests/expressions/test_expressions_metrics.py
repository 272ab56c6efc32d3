"""Evaluation metrics against values computed by hand, and the evaluation of a model on a data set."""
from __future__ import annotations

import json

import numpy as np
import pytest

from vidaffect.data.expressions.base import ExpressionData
from vidaffect.evaluation.expressions import evaluate_model, write_eval_outputs
from vidaffect.evaluation.metrics import classification_report, confusion_matrix
from vidaffect.labels import EMOTIONS, EMOTIONS_8
from vidaffect.models.base import CropSpec, FrameEmotionModel


def test_metrics_match_hand_computation():
    # classes a, b, c.  true: a a a b b c ; pred: a a b b c c
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 2, 2])
    cm = confusion_matrix(y_true, y_pred, 3)
    assert cm.tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    rep = classification_report(y_true, y_pred, ["a", "b", "c"])
    assert rep.accuracy == pytest.approx(4 / 6)
    # recall a 2/3, b 1/2, c 1/1; precision a 2/2, b 1/2, c 1/2
    assert rep.recall.tolist() == pytest.approx([2 / 3, 1 / 2, 1.0])
    assert rep.precision.tolist() == pytest.approx([1.0, 1 / 2, 1 / 2])
    f1 = [2 * 1 * (2 / 3) / (1 + 2 / 3), 0.5, 2 * 0.5 * 1 / 1.5]  # 0.8, 0.5, 0.6667
    assert rep.f1.tolist() == pytest.approx(f1)
    assert rep.macro_f1 == pytest.approx(sum(f1) / 3)
    assert rep.macro_recall == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    text = rep.format()
    assert "accuracy 0.6667" in text and "macro-F1 0.6556" in text


def test_absent_class_is_left_out_of_macro_average():
    rep = classification_report(np.array([0, 0, 1]), np.array([0, 2, 1]), ["a", "b", "c"])
    assert np.isnan(rep.recall[2]) and rep.precision[2] == 0 and rep.f1[2] == 0
    # f1 a: p 1, r 1/2 -> 2/3 ; f1 b: 1 ; c has no support -> excluded
    assert rep.macro_f1 == pytest.approx((2 / 3 + 1) / 2)
    assert rep.to_dict()["per_class"]["c"]["recall"] is None


class _Oracle(FrameEmotionModel):
    """Predicts class ``top-left pixel // 10``: confidently (0.99) for disgust, unsurely (0.55) otherwise."""

    name = "oracle"
    classes = EMOTIONS
    crop = CropSpec(size=8, color="gray")

    def predict(self, crops):
        cls = crops[:, 0, 0].astype(int) // 10
        conf = np.where(cls == 1, 0.99, 0.55)
        probs = np.repeat(((1 - conf) / 6)[:, None], 7, axis=1).astype(np.float32)
        probs[np.arange(len(crops)), cls] = conf
        return probs, None


def test_evaluate_model_maps_classes_and_skips_unknown(tmp_path):
    labels = np.array([0, 3, 3, 6, 7])  # over EMOTIONS_8; contempt (7) unknown to the 7-class model
    images = np.zeros((5, 16, 16), np.uint8)
    preds = [0, 3, 4, 6, 0]  # one error: true happy predicted sad
    for i, p in enumerate(preds):
        images[i] = p * 10
    data = ExpressionData(images, labels, EMOTIONS_8, [f"img{i}" for i in range(5)])
    res = evaluate_model(_Oracle(), data, batch_size=2)
    assert res.skipped == {"contempt": 1}
    assert res.report.classes == EMOTIONS
    assert res.report.accuracy == pytest.approx(3 / 4)
    assert res.report.confusion[3].tolist() == [0, 0, 0, 1, 1, 0, 0]
    files = write_eval_outputs(tmp_path / "eval", res, {"model": "oracle"})
    metrics = json.loads(files["metrics"].read_text())
    assert metrics["accuracy"] == pytest.approx(0.75) and metrics["skipped_samples"] == {"contempt": 1}
    assert files["confusion"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert files["predictions"].read_text().splitlines()[3].startswith('"img2",happy,sad')


def test_tta_flip_averages_mirror_predictions():
    images = np.full((1, 8, 8), 10, np.uint8)  # disgust...
    images[0, 0, 0] = 30  # ...but the top-left pixel says happy (unsure): only the unflipped view is fooled
    data = ExpressionData(images, np.array([1]), EMOTIONS)
    assert evaluate_model(_Oracle(), data).report.accuracy == 0.0
    # mean of (happy 0.55, disgust 0.075) and (disgust 0.99, happy 0.0017): disgust wins
    assert evaluate_model(_Oracle(), data, tta_flip=True).report.accuracy == 1.0


def test_ece_is_zero_when_confidence_equals_accuracy_and_large_when_overconfident():
    from vidaffect.evaluation.metrics import calibration

    # 10 predictions at 0.7 confidence of which 7 are right: calibrated
    probs = np.tile([0.7, 0.3], (10, 1))
    correct = np.array([True] * 7 + [False] * 3)
    cal = calibration(probs, correct, bins=15)
    assert cal.ece == pytest.approx(0.0, abs=1e-12)
    assert cal.count.sum() == 10 and np.nanmax(cal.confidence) == pytest.approx(0.7)
    # the same confidence with only 2 of 10 right: ECE = |0.2 - 0.7|
    assert calibration(probs, np.array([True] * 2 + [False] * 8)).ece == pytest.approx(0.5)
    # two bins: 0.95 (all right) and 0.55 (half right) -> ECE = (4 * 0.05 + 4 * 0.05) / 8
    probs = np.array([[0.95, 0.05]] * 4 + [[0.55, 0.45]] * 4)
    correct = np.array([True] * 4 + [True, True, False, False])
    assert calibration(probs, correct).ece == pytest.approx(0.05)
    with pytest.raises(ValueError):
        calibration(probs, correct[:3])


def test_eval_outputs_include_calibration_and_reliability_diagram(tmp_path):
    from vidaffect.evaluation.expressions import EvalResult, write_eval_outputs
    from vidaffect.evaluation.metrics import classification_report

    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    y_true = np.array([0, 1, 1, 0])
    y_pred = probs.argmax(1)
    res = EvalResult(classification_report(y_true, y_pred, ("happy", "sad")), probs, y_true, y_pred)
    files = write_eval_outputs(tmp_path, res, {"model": "m"})
    metrics = json.loads(files["metrics"].read_text())
    assert metrics["calibration"]["ece"] == pytest.approx(res.calibration.ece) and metrics["calibration"]["bins"] == 15
    assert files["reliability"].read_bytes()[:4] == b"\x89PNG"
