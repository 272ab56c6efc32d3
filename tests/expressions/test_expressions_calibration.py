"""Temperature scaling: the fit, checkpoints with a temperature, ``vidaffect calibrate expressions``, exprnet-m."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vidaffect.cli.main import main
from vidaffect.errors import ModelError
from vidaffect.evaluation.calibration import ece_at, fit_and_score, fit_temperature, nll, softmax_t
from vidaffect.labels import EMOTIONS
from vidaffect.models.checkpoint import save_model_checkpoint
from vidaffect.models.exprnet import ExprNet
from vidaffect.training.expressions import TrainConfig, model_config

from expressions_synth import face, write_train_val_folder


def _synthetic(temperature: float, n: int = 20000, classes: int = 7, seed: int = 0):
    """Logits and labels drawn from softmax(logits / temperature): the NLL-optimal temperature is ``temperature``."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 3.0, (n, classes))
    p = softmax_t(z, temperature)
    labels = (p.cumsum(1) > rng.random((n, 1))).argmax(1)
    return z, labels


@pytest.mark.parametrize("true_t", [0.5, 1.0, 2.5])
def test_fit_recovers_a_known_temperature(true_t):
    z, y = _synthetic(true_t)
    t = fit_temperature(z, y)
    assert t == pytest.approx(true_t, rel=0.05)
    assert nll(z, y, t) <= min(nll(z, y, true_t * 0.9), nll(z, y, true_t * 1.1))
    fit = fit_and_score(z * 1.7, y)  # overconfident logits: the fit undoes the scale and lowers ECE
    assert fit.temperature == pytest.approx(1.7 * true_t, rel=0.05)
    assert fit.nll_after < fit.nll_before and fit.ece_after < fit.ece_before + 1e-9
    assert ece_at(z * 1.7, y, fit.temperature) == pytest.approx(fit.ece_after)


@pytest.mark.parametrize("logits, labels, message", [
    (np.zeros((3, 4)), np.array([0, 1]), "do not match"),
    (np.zeros((2, 4)), np.array([0, 4]), "class indices"),
    (np.full((2, 4), np.nan), np.array([0, 1]), "NaN"),
    (np.zeros((0, 4)), np.zeros(0, int), "no samples"),
    (np.zeros(4), np.array([0]), "shape"),
])
def test_fit_refuses_bad_input(logits, labels, message):
    with pytest.raises(ValueError, match=message):
        fit_temperature(logits, labels)


def _checkpoint(tmp_path, name="net", calibration=None, classes=EMOTIONS):
    torch.manual_seed(0)
    net = ExprNet(len(classes), 8).eval()
    cfg = model_config(TrainConfig(width=8), classes)
    if calibration is not None:
        cfg["calibration"] = calibration
    return save_model_checkpoint(tmp_path / name, net, cfg)


def _crops(n=16, seed=0):
    return np.stack([face(i % 7, seed + i) for i in range(n)])


def test_temperature_changes_probabilities_not_classes(tmp_path):
    from vidaffect.models import create_model

    plain = create_model(str(_checkpoint(tmp_path, "plain")))
    hot = create_model(str(_checkpoint(tmp_path, "hot", {"temperature": 2.5})))
    crops = _crops()
    logits = plain.logits(crops)
    p_plain, _ = plain.predict(crops)
    p_hot, _ = hot.predict(crops)
    assert hot.temperature == 2.5 and plain.temperature == 1.0
    torch.testing.assert_close(hot.logits(crops), logits, rtol=0, atol=0)  # same weights: logits stay uncalibrated
    np.testing.assert_array_equal(p_plain, torch.softmax(logits, 1).numpy())  # no key: exactly as before
    np.testing.assert_allclose(p_hot, torch.softmax(logits / 2.5, 1).numpy(), rtol=1e-6, atol=1e-7)
    assert (p_hot.argmax(1) == p_plain.argmax(1)).all()
    assert (p_hot.max(1) < p_plain.max(1)).all()  # T > 1: softer
    assert "temperature" not in plain.describe() and "calibration" not in plain.describe()
    assert hot.describe()["temperature"] == 2.5 and hot.describe()["calibration"] == {"temperature": 2.5}
    hot.tta_flip = plain.tta_flip = True  # flip TTA averages logits: the class still never changes
    assert (hot.predict(crops)[0].argmax(1) == plain.predict(crops)[0].argmax(1)).all()


@pytest.mark.parametrize("calibration", [{"temperature": -1}, {"temperature": 0}, {"temperature": "hot"},
                                         {"temperature": float("inf")}, {"scale": 2}, [2.0]])
def test_bad_calibration_entry_is_a_one_line_model_error(tmp_path, calibration):
    from vidaffect.models import create_model

    path = _checkpoint(tmp_path, calibration=calibration)
    with pytest.raises(ModelError, match="temperature"):
        create_model(str(path))


@pytest.fixture()
def tiny_folder(tmp_path):
    return write_train_val_folder(tmp_path / "faces", 10, 4)


def test_calibrate_writes_a_new_checkpoint_and_eval_reports_before_and_after(tiny_folder, tmp_path, capsys):
    src = _checkpoint(tmp_path)
    before = (src.read_bytes(), src.with_suffix(".json").read_bytes())
    out = tmp_path / "calibrated" / "net_cal.safetensors"
    rc = main(["calibrate", "expressions", "--data", str(tiny_folder), "--model", str(src), "--out", str(out),
               "--no-cache", "--device", "cpu"])
    text = capsys.readouterr().out
    assert rc == 0 and "temperature" in text and "val (12 images" in text
    assert (src.read_bytes(), src.with_suffix(".json").read_bytes()) == before  # the input is never modified
    assert out.read_bytes() == before[0]  # same weights
    cfg = json.loads(out.with_suffix(".json").read_text())
    cal = cfg["calibration"]
    assert cal["temperature"] > 0 and cal["fit"]["samples"] == 3  # 10% of 10 images per class, 3 classes
    assert cal["report"]["split"] == "val" and cal["report"]["samples"] == 12
    assert "hold-out" in cal["fitted_on"] and cal["source_checkpoint"] == str(src)
    assert cfg["arch_kwargs"] == json.loads(before[1])["arch_kwargs"]

    from vidaffect.models import create_model

    assert create_model(str(out)).temperature == pytest.approx(cal["temperature"])
    ev = tmp_path / "eval"
    rc = main(["eval", "expressions", "--data", str(tiny_folder), "--model", str(out), "--no-cache", "--device", "cpu",
               "--out", str(ev)])
    text = capsys.readouterr().out
    assert rc == 0 and "uncalibrated (T=1)" in text
    metrics = json.loads((ev / "metrics.json").read_text())
    assert metrics["temperature"] == pytest.approx(cal["temperature"])
    assert metrics["accuracy_uncalibrated"] == metrics["accuracy"]
    assert {"calibration", "calibration_uncalibrated"} <= set(metrics)
    for png in ("reliability.png", "reliability_uncalibrated.png"):
        assert (ev / png).read_bytes()[:4] == b"\x89PNG"

    # calibrating again refuses to overwrite, unless --force
    rc = main(["calibrate", "expressions", "--data", str(tiny_folder), "--model", str(src), "--out", str(out),
               "--no-cache", "--device", "cpu"])
    assert rc == 1 and "exists (pass --force" in capsys.readouterr().err
    rc = main(["calibrate", "expressions", "--data", str(tiny_folder), "--model", str(out), "--out",
               str(tmp_path / "again"), "--holdout-fraction", "0", "--split", "val", "--report-split", "none",
               "--no-cache", "--device", "cpu"])
    assert rc == 0 and "replaced the input's calibration" in capsys.readouterr().out
    again = json.loads((tmp_path / "again.json").read_text())["calibration"]
    assert again["replaces"]["temperature"] == cal["temperature"] and "report" not in again


@pytest.mark.parametrize("args, message", [
    (["--model", "{src}", "--out", "{src}"], "is the input checkpoint"),
    (["--model", "{src}", "--out", "{stem}"], "is the input checkpoint"),
    (["--model", "{src}", "--out", "{json}"], "NAME.safetensors"),
    (["--model", "no/such/net.safetensors", "--out", "x.safetensors"], "file not found"),
    (["--model", "{src}", "--out", "x.pth"], "NAME.safetensors"),
    (["--model", "{src}", "--out", "x.safetensors", "--holdout-fraction", "1.5"], "--holdout-fraction"),
    (["--model", "{src}", "--out", "x.safetensors", "--report-split", "train"], "is the split the temperature"),
    (["--model", "{src}", "--out", "x.safetensors", "--split", "bogus"], "bogus"),
    (["--model", "nope", "--out", "x.safetensors"], "unknown model 'nope'"),
])
def test_calibrate_refuses_bad_input_in_one_line(tiny_folder, tmp_path, capsys, monkeypatch, args, message):
    src = _checkpoint(tmp_path)
    monkeypatch.chdir(tmp_path)
    args = [a.format(src=src, json=src.with_suffix(".json"), stem=src.with_suffix("")) for a in args]
    rc = main(["calibrate", "expressions", "--data", str(tiny_folder), "--no-cache", "--device", "cpu", *args])
    err = capsys.readouterr().err
    assert rc == 1 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.safetensors").exists() and not (tmp_path / "x.json").exists()


def test_calibrate_refuses_models_that_are_not_exprnet(tmp_path, tiny_folder, capsys):
    from vidaffect.models.mini_xception import MiniXception

    path = save_model_checkpoint(tmp_path / "mx", MiniXception(7), {"arch": "mini_xception", "classes": list(EMOTIONS)})
    rc = main(["calibrate", "expressions", "--data", str(tiny_folder), "--model", str(path), "--out",
               str(tmp_path / "out.safetensors"), "--no-cache", "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == 1 and "ExprNet checkpoints" in err and not (tmp_path / "out.safetensors").exists()


def test_exprnet_m_is_registered_calibrated_and_loads(capsys):
    from vidaffect.models import create_model, list_models
    from vidaffect.models.zoo.exprnet import SHIPPED_M

    assert "exprnet-m" in list_models()
    assert main(["models", "list"]) == 0
    assert any(line.startswith("exprnet-m ") for line in capsys.readouterr().out.splitlines())
    if not SHIPPED_M.is_file():
        pytest.skip(f"shipped weights not installed ({SHIPPED_M})")
    m = create_model("exprnet-m")
    assert m.classes == EMOTIONS and m.crop.size == 48 and m.crop.color == "gray"
    assert sum(p.numel() for p in m.net.parameters()) == pytest.approx(2.72e6, rel=0.01)
    assert 0.5 < m.temperature < 2.0 and m.describe()["calibration"]["fit"]["samples"] > 0
    probs, _ = m.predict(_crops(4))
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    random = create_model("exprnet-m", pretrained=False)
    assert random.temperature == 1.0 and sum(p.numel() for p in random.net.parameters()) == sum(
        p.numel() for p in m.net.parameters())


def test_face_cost_times_predict_in_both_precisions(tmp_path):
    from vidaffect.evaluation.speed import face_cost
    from vidaffect.models import create_model

    model = create_model(str(_checkpoint(tmp_path, calibration={"temperature": 1.5})))
    for precision in ("fp32", "bf16"):
        cost = face_cost(model, precision, batch=4, repeats=2, runs=1, warmup=1)
        assert cost.precision == precision == model.precision and 0 < cost.min_ms <= cost.median_ms
