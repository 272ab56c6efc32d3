"""The temporal model learns a tiny synthetic sequence data set; training is resumable."""
from __future__ import annotations

import json

import numpy as np
import torch

from vidaffect.data.sequences import load_face_sequences
from vidaffect.labels import EMOTIONS
from vidaffect.models import FaceBatch, create_model
from vidaffect.models.tsm.checkpoint import load_tsm_checkpoint
from vidaffect.training.tsm import TSMTrainConfig, train_tsm_sequences

torch.set_num_threads(1)


def _cfg(out, **kw) -> TSMTrainConfig:
    base = dict(out_dir=str(out), input_size=32, buffer_length=4, width=16, lr=1e-3, batch_size=4, epochs=4,
                steps_per_epoch=8, val_stride=2, seed=0, checkpoint_every=0)
    base.update(kw)
    return TSMTrainConfig(**base)


def test_learns_sequences_above_chance(tmp_path, pattern_sequences) -> None:
    train = load_face_sequences(pattern_sequences[0], size=32)
    val = load_face_sequences(pattern_sequences[1], size=32)
    summary = train_tsm_sequences(train, val, _cfg(tmp_path / "run"))
    assert summary["best_val_acc"] > 0.7  # 3 classes: chance is 1/3
    out = tmp_path / "run" / "sequences"
    for name in ("best.safetensors", "best.json", "last.safetensors", "log.csv", "curves.png", "summary.json"):
        assert (out / name).is_file(), name
    assert len((out / "log.csv").read_text().strip().splitlines()) == 1 + 4
    # the trained checkpoint classifies validation tracks through the analyze interface
    model = create_model("resnet18-tsm", checkpoint=out / "best.safetensors")
    correct = total = 0
    row = 0
    for fid, clip in enumerate(val.clips):
        for f in range(len(clip)):
            b = FaceBatch(clip.frames[f : f + 1], np.array([row]), np.array([fid]), np.array([f]), np.array([f / 25]))
            pred = int(model.process(b)[0].probs.argmax(1)[0])
            correct += pred == int(clip.labels[f])
            total += 1
            row += 1
    assert correct / total > 0.6, correct / total


def test_resume_replays_the_same_steps(tmp_path, pattern_sequences) -> None:
    train = load_face_sequences(pattern_sequences[0], size=32)
    cfg = dict(epochs=2, steps_per_epoch=2, batch_size=2)
    train_tsm_sequences(train, None, _cfg(tmp_path / "full", **cfg))
    train_tsm_sequences(train, None, _cfg(tmp_path / "part", **{**cfg, "epochs": 1}))
    said: list[str] = []
    summary = train_tsm_sequences(train, None, _cfg(tmp_path / "part", **cfg), resume=True, progress=said.append)
    assert summary["epochs_run"] == 2
    assert said[0].startswith("sequences: resumed at epoch 2")  # only the missing epoch ran
    assert [m.split()[2] for m in said[1:]] == ["2/2"]
    a, _ = load_tsm_checkpoint(tmp_path / "full" / "sequences" / "last.safetensors")
    b, cfg_b = load_tsm_checkpoint(tmp_path / "part" / "sequences" / "last.safetensors")
    for k, v in a.state_dict().items():
        assert torch.allclose(v.float(), b.state_dict()[k].float(), atol=1e-6), k
    assert cfg_b["epoch"] == 2 and cfg_b["classes"] == list(EMOTIONS)
    log = json.loads((tmp_path / "part" / "sequences" / "summary.json").read_text())
    assert log["epochs_run"] == 2
