"""`vidaffect micro preprocess | train | eval` end to end on a tiny SMIC-layout data set."""
from __future__ import annotations

import json

import pandas as pd
from micro_synth import write_dataset

from vidaffect.cli.main import main


def test_micro_cli_preprocess_train_eval(tmp_path, capsys):
    csv = write_dataset(tmp_path / "smic", "smic", subjects=3, per_class=1, classes=("right", "up"), n=5, size=48)
    cache, run = tmp_path / "cache", tmp_path / "run"
    args = ["micro", "preprocess", "--csv", str(csv), "--root", str(tmp_path / "smic"), "--dataset", "smic", "--out", str(cache), "--size", "48", "--workers", "1", "-q"]
    assert main(args) == 0
    assert "6 samples of 3 subjects" in capsys.readouterr().out
    assert main(args) == 0  # idempotent re-run
    assert len(pd.read_csv(cache / "manifest.csv")) == 6

    # reference-style option names (underscores) and the hyphenated ones both work
    assert main(["micro", "train", "--img_root", str(cache), "--model", "SSSN", "--image_mode", "S", "--epochs", "1",
                 "--batch_size", "4", "--learning_rate", "1e-3", "--input-size", "48", "--weight_save_path", str(run), "-q"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "LOSO over 3 subjects" in out
    folds = sorted(p.name for p in (run / "folds").glob("*.safetensors"))
    assert folds == ["fold_s1.safetensors", "fold_s2.safetensors", "fold_s3.safetensors"]
    results = json.loads((run / "results.json").read_text())
    assert results["config"]["image_mode"] == ["S"] and results["config"]["model"] == "SSSN"

    assert main(["micro", "eval", "--checkpoint", str(run), "--cache", str(cache), "-o", str(tmp_path / "eval")]) == 0
    assert json.loads((tmp_path / "eval" / "results.json").read_text())["pooled"] == results["pooled"]

    assert main(["micro", "train", "--cache", str(cache), "--protocol", "full", "--model", "SSSN", "--image_mode", "G",
                 "--epochs", "1", "--input_size", "48", "--out", str(tmp_path / "full"), "-q"]) == 0  # fmt: skip
    assert (tmp_path / "full" / "model.safetensors").is_file() and (tmp_path / "full" / "model.json").is_file()


def test_micro_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["micro", "preprocess", "--csv", str(tmp_path / "no.csv"), "--root", str(tmp_path), "--dataset", "casme2", "--out", str(tmp_path / "c")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("vidaffect: error:") and "no.csv" in err and "\n" not in err
    assert main(["micro", "train", "--cache", str(tmp_path), "--out", str(tmp_path / "r")]) == 1
    assert "manifest" in capsys.readouterr().err
    assert main(["micro", "spot", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "s"), "-q"]) == 1
    assert "missing.mp4" in capsys.readouterr().err
