"""Frame stage (sampling mix, class mapping) and the ``vidaffect train tsm`` command end to end."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from tsm_synthetic import PATTERN_CLASSES, pattern_frame
from vidaffect.cli.main import main
from vidaffect.data.expressions.base import ExpressionData
from vidaffect.labels import EMOTIONS, EMOTIONS_8
from vidaffect.models.tsm.checkpoint import load_tsm_checkpoint
from vidaffect.training.tsm import FrameMix, FrameSource, to_seven_classes

torch.set_num_threads(1)


def _data(labels: list[int], classes=EMOTIONS, gray: bool = False, size: int = 8) -> ExpressionData:
    shape = (len(labels), size, size) if gray else (len(labels), size, size, 3)
    images = np.stack([np.full(shape[1:], i, np.uint8) for i in range(len(labels))])
    return ExpressionData(images, np.asarray(labels, np.int64), classes)


def test_to_seven_classes_drops_contempt_and_makes_rgb() -> None:
    data = _data([7, 3, 6, 7, 0], classes=EMOTIONS_8, gray=True)
    images, soft = to_seven_classes(data, 16)
    assert images.shape == (3, 16, 16, 3)
    assert soft.argmax(1).tolist() == [3, 6, 0] and np.allclose(soft.sum(1), 1)
    assert images[0, 0, 0].tolist() == [1, 1, 1]  # the 2nd image (label 3), gray repeated to RGB


def test_sampling_mix_and_neutral_weight() -> None:
    a = FrameSource(_data([6] * 50 + [3] * 50), weight=0.2, name="raf")
    b = FrameSource(_data([0] * 100), weight=0.8, name="affectnet")
    mix = FrameMix([a, b], 8, neutral_weight=0.33)
    x, y = mix.batch(4000, torch.Generator().manual_seed(0))
    assert x.shape == (4000, 3, 8, 8) and float(x.max()) <= 1.0
    labels = y.argmax(1)
    from_a = (labels != 0).float().mean().item()  # every sample of b is angry, none of a
    assert from_a == pytest.approx(0.2, abs=0.03)
    neutral_share_in_a = ((labels == 6).sum() / (labels != 0).sum()).item()
    assert neutral_share_in_a == pytest.approx(0.33 / 1.33, abs=0.04)


def _image_folder(root: Path, per_class: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for split in ("train", "val"):
        for cls, name in enumerate(PATTERN_CLASSES):
            d = root / split / name
            d.mkdir(parents=True)
            for k in range(per_class):
                cv2.imwrite(str(d / f"{k}.png"), cv2.cvtColor(pattern_frame(cls, rng), cv2.COLOR_RGB2BGR))


def test_train_tsm_command_runs_both_stages_and_resumes(tmp_path: Path, pattern_sequences, capsys) -> None:
    _image_folder(tmp_path / "faces", 4, seed=3)
    out = tmp_path / "run"
    args = ["train", "tsm", "--frames", f"{tmp_path / 'faces'}@1", "--frames-val", str(tmp_path / "faces"),
            "--sequences", str(pattern_sequences[0]), "--sequences-val", str(pattern_sequences[1]),
            "--out", str(out), "--input-size", "32", "--width", "8", "--epochs", "1", "--seq-epochs", "1",
            "--steps-per-epoch", "2", "--val-stride", "3", "--loss", "ce"]
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == str(out / "sequences" / "best.safetensors")
    for stage in ("frames", "sequences"):
        assert (out / stage / "curves.png").is_file() and (out / stage / "best.json").is_file()
    _, cfg = load_tsm_checkpoint(summary["model"])
    assert cfg["init_checkpoint"] == str(out / "frames" / "best.safetensors")
    assert cfg["arch_kwargs"]["width"] == 8 and cfg["input"]["size"] == 32
    capsys.readouterr()
    assert main(args + ["--resume"]) == 0  # everything done already: nothing is retrained
    printed = capsys.readouterr().out
    assert "already complete" in printed and "epoch 1/1" not in printed


def test_train_tsm_command_errors(tmp_path: Path, capsys) -> None:
    assert main(["train", "tsm", "--out", str(tmp_path)]) == 1
    assert "nothing to train" in capsys.readouterr().err
    assert main(["train", "tsm", "--sequences", str(tmp_path / "missing"), "--out", str(tmp_path)]) == 1
    assert "missing" in capsys.readouterr().err


def test_build_sequences_command_needs_a_label(tmp_path: Path, capsys) -> None:
    assert main(["build-sequences", str(tmp_path / "v.mp4"), "--out", str(tmp_path / "seq")]) == 1
    assert "--label" in capsys.readouterr().err
