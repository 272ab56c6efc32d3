"""``vidaffect train expressions`` and ``vidaffect eval expressions`` end to end on a tiny image folder."""
from __future__ import annotations

import json

import pytest

from vidaffect.cli.main import main

from expressions_synth import write_train_val_folder


@pytest.fixture()
def tiny_folder(tmp_path):
    return write_train_val_folder(tmp_path / "faces", 8, 3)


def test_train_then_eval(tiny_folder, tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["train", "expressions", "--data", str(tiny_folder), "--out", str(out), "--epochs", "2",
               "--batch-size", "8", "--size", "24", "--width", "8", "--lr", "0.01", "--cache-dir",
               str(tmp_path / "cache")])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["epochs_run"] == 2 and (out / "best.safetensors").is_file() and (out / "log.csv").is_file()
    config = json.loads((out / "best.json").read_text())
    assert config["input"]["size"] == 24 and config["arch_kwargs"]["width"] == 8
    assert len(list((tmp_path / "cache").glob("imagefolder-*.npz"))) == 2  # train + val decoded once, cached

    ev = tmp_path / "eval"
    rc = main(["eval", "expressions", "--data", str(tiny_folder), "--model", str(out / "best.safetensors"),
               "--tta-flip", "--out", str(ev), "--no-cache"])
    assert rc == 0
    text = capsys.readouterr().out
    metrics = json.loads((ev / "metrics.json").read_text())
    assert metrics["num_samples"] == 9 and metrics["tta_flip"] is True
    assert f"accuracy {metrics['accuracy']:.4f}" in text and "confusion matrix" in text
    assert sum(map(sum, metrics["confusion_matrix"])) == 9
    assert (ev / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    assert len((ev / "predictions.csv").read_text().splitlines()) == 10


def test_cli_errors_are_one_line(tiny_folder, tmp_path, capsys):
    (tiny_folder / "val" / "boredom").mkdir()
    rc = main(["eval", "expressions", "--data", str(tiny_folder), "--model", "mini-xception", "--no-cache"])
    assert rc == 1
    err = capsys.readouterr().err
    assert "needs" in err or "checkpoint" in err
    rc = main(["train", "expressions", "--data", str(tiny_folder), "--out", str(tmp_path / "r"), "--no-cache"])
    err = capsys.readouterr().err
    assert rc == 1 and "boredom" in err and "unknown emotion" in err and "Traceback" not in err
    rc = main(["eval", "expressions", "--data", str(tmp_path / "missing"), "--model", "nope"])
    assert rc == 1 and "unknown model 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--mixup", "-1"], "--mixup must be >= 0"),
    (["--distill-weight", "1.5"], "--distill-weight must be between 0 and 1"),
    (["--distill-temperature", "0"], "--distill-temperature must be > 0"),
    (["--teacher", "no/such/teacher.safetensors"], "file not found"),
])
def test_train_option_mistakes_are_one_line_errors(tiny_folder, tmp_path, capsys, args, message):
    rc = main(["train", "expressions", "--data", str(tiny_folder), "--out", str(tmp_path / "r"), "--no-cache", *args])
    err = capsys.readouterr().err
    assert rc == 1 and message in err and "Traceback" not in err
