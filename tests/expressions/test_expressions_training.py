"""Training loop behaviour: overfitting a tiny set, exact resume after an interruption, checkpoints."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import vidaffect.training.expressions as tx
from vidaffect.data.expressions.base import ExpressionData
from vidaffect.labels import EMOTIONS
from vidaffect.models import create_model
from vidaffect.models.checkpoint import CheckpointError, load_model_checkpoint, save_model_checkpoint
from vidaffect.models.exprnet import ExprNet
from vidaffect.training.augment import AugmentConfig
from vidaffect.training.expressions import TrainConfig, model_config, train_expressions

from expressions_synth import face

MILD = AugmentConfig(rotation_deg=5, translate=0.04, erase_prob=0.0, brightness=0.1, contrast=0.1)


def synthetic(n_per_class: int, classes: int = 5, seed: int = 0, size: int = 24) -> ExpressionData:
    """Small (24x24) faces keep the tests fast; ExprNet is fully convolutional."""
    labels = np.repeat(np.arange(classes), n_per_class)
    images = np.stack([face(int(c), seed * 10_000 + i, size) for i, c in enumerate(labels)])
    return ExpressionData(images, labels.astype(np.int64), EMOTIONS)


def test_overfits_fifty_images(tmp_path):
    data = synthetic(10)  # 50 images, 5 classes
    cfg = TrainConfig(out_dir=str(tmp_path / "run"), width=8, input_size=24, epochs=8, batch_size=10, lr=1e-2,
                      warmup_epochs=0.5, label_smoothing=0.0, patience=20, tta_flip=False, checkpoint_every=0,
                      augment=MILD)
    summary = train_expressions(data, data, cfg)
    rows = list(csv.DictReader(open(tmp_path / "run" / "log.csv")))
    assert len(rows) == 8
    first, last = rows[0], rows[-1]
    assert float(last["train_loss"]) < 0.6 * float(first["train_loss"])
    assert float(last["train_acc"]) > float(first["train_acc"]) + 0.3
    assert summary["best_val_acc"] >= 0.9
    assert (tmp_path / "run" / "curves.png").read_bytes()[:4] == b"\x89PNG"
    # the best checkpoint reloads as a registered-arch model and reproduces its validation accuracy
    model = create_model(str(tmp_path / "run" / "best.safetensors"))
    acc = float((model.predict(data.images)[0].argmax(1) == data.labels).mean())
    assert acc == pytest.approx(summary["best_val_acc"], abs=1e-6)


def _tiny_cfg(out, **kw):
    return TrainConfig(out_dir=str(out), width=8, input_size=24, epochs=2, batch_size=8, lr=3e-3, checkpoint_every=2,
                       tta_flip=False, patience=5, **kw)


@pytest.mark.parametrize("ema", [0.0, 0.9])
def test_resume_after_interrupt_gives_identical_weights(tmp_path, monkeypatch, ema):
    train, val = synthetic(8, 5, seed=1), synthetic(2, 5, seed=2)  # 40 images: 5 steps per epoch
    train_expressions(train, val, _tiny_cfg(tmp_path / "straight", ema=ema))

    real = tx.augment_batch
    calls = {"n": 0}

    def interrupt_at_step_8(x, cfg, gen):
        calls["n"] += 1
        if calls["n"] == 8:  # epoch 2, step 3: the last resume point is epoch 2 step 2
            raise KeyboardInterrupt
        return real(x, cfg, gen)

    monkeypatch.setattr(tx, "augment_batch", interrupt_at_step_8)
    with pytest.raises(KeyboardInterrupt):
        train_expressions(train, val, _tiny_cfg(tmp_path / "resumed", ema=ema))
    state = torch.load(tmp_path / "resumed" / "state.pt", weights_only=True)
    assert (int(state["epoch"]), int(state["step_in_epoch"])) == (1, 2)
    monkeypatch.setattr(tx, "augment_batch", real)
    summary = train_expressions(train, val, _tiny_cfg(tmp_path / "resumed", ema=ema), resume=True)
    assert summary["epochs_run"] == 2
    a = load_file(str(tmp_path / "straight" / "last.safetensors"))
    b = load_file(str(tmp_path / "resumed" / "last.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    log_a = (tmp_path / "straight" / "log.csv").read_text().splitlines()
    log_b = (tmp_path / "resumed" / "log.csv").read_text().splitlines()
    strip = lambda rows: [r.rsplit(",", 1)[0] for r in rows]  # noqa: E731 (last column: seconds)
    assert strip(log_a) == strip(log_b)
    # with --ema the saved weights are the average, not the last step's raw weights
    raw = torch.load(tmp_path / "resumed" / "state.pt", weights_only=True)["model"]
    differs = any(not torch.equal(raw[k].float(), b[k].float()) for k in b if b[k].is_floating_point())
    assert differs == (ema > 0)


def test_checkpoint_round_trip_and_mismatch_errors(tmp_path):
    torch.manual_seed(0)
    net = ExprNet(7, 8).eval()
    cfg = TrainConfig(width=8)
    path = save_model_checkpoint(tmp_path / "m", net, model_config(cfg, EMOTIONS, {"val_acc": 0.5}))
    model = create_model(str(path))
    imgs = np.random.default_rng(0).integers(0, 256, (4, 48, 48)).astype(np.uint8)
    with torch.no_grad():
        expected = torch.softmax(net(torch.from_numpy(imgs).float().unsqueeze(1) / 255 * 2 - 1), 1).numpy()
    assert np.allclose(model.predict(imgs)[0], expected, atol=1e-6)
    assert model.classes == EMOTIONS and model.describe()["val_acc"] == 0.5

    # wrong class count: the config says 8 classes, the weights have 7 outputs
    conf = json.loads(path.with_suffix(".json").read_text())
    conf8 = dict(conf, classes=list(EMOTIONS) + ["contempt"], arch_kwargs=dict(conf["arch_kwargs"], num_classes=8))
    (tmp_path / "eight.json").write_text(json.dumps(conf8))
    (tmp_path / "eight.safetensors").write_bytes(path.read_bytes())
    with pytest.raises(CheckpointError, match=r"eight.safetensors: checkpoint does not match.*classifier"):
        create_model(str(tmp_path / "eight.safetensors"))
    # wrong architecture: ExprNet weights declared as mini-Xception
    (tmp_path / "mx.json").write_text(json.dumps(dict(conf, arch="mini_xception", arch_kwargs={"num_classes": 7})))
    (tmp_path / "mx.safetensors").write_bytes(path.read_bytes())
    with pytest.raises(CheckpointError, match=r"mx.safetensors: checkpoint does not match"):
        create_model(str(tmp_path / "mx.safetensors"))
    # exprnet-s given a mini-Xception checkpoint
    with pytest.raises(Exception, match=r"mx.safetensors.*not 'exprnet'"):
        create_model("exprnet-s", checkpoint=tmp_path / "mx.safetensors")


def test_init_from_starts_from_the_checkpoint_weights(tmp_path):
    data = synthetic(10)
    base = TrainConfig(out_dir=str(tmp_path / "base"), width=8, input_size=24, epochs=6, batch_size=10, lr=1e-2,
                       warmup_epochs=0.5, label_smoothing=0.0, patience=20, tta_flip=False, checkpoint_every=0,
                       augment=MILD)
    first = train_expressions(data, data, base)
    # a near-zero learning rate: the fine-tuned model must score what the checkpoint scored, not chance
    tuned = TrainConfig(out_dir=str(tmp_path / "tuned"), width=8, input_size=24, epochs=1, batch_size=10, lr=1e-7,
                        warmup_epochs=0.0, patience=20, tta_flip=False, checkpoint_every=0, augment=MILD,
                        init_from=str(tmp_path / "base" / "best.safetensors"))
    second = train_expressions(data, data, tuned)
    assert first["best_val_acc"] >= 0.8
    assert second["best_val_acc"] == pytest.approx(first["best_val_acc"], abs=0.05)
    scratch = train_expressions(data, data, TrainConfig(**{**tuned.__dict__, "out_dir": str(tmp_path / "s"),
                                                           "init_from": ""}))
    assert scratch["best_val_acc"] < first["best_val_acc"] - 0.3


def test_init_from_rejects_other_classes_or_widths(tmp_path):
    data = synthetic(2)
    ckpt = tmp_path / "w16.safetensors"
    net = ExprNet(len(EMOTIONS), 16)
    save_model_checkpoint(ckpt, net, model_config(TrainConfig(width=16), EMOTIONS))
    with pytest.raises(CheckpointError, match="w16"):
        train_expressions(data, data, _tiny_cfg(tmp_path / "a", init_from=str(ckpt)))  # width 8 vs 16
    other = ExpressionData(data.images, data.labels, EMOTIONS[:5])
    with pytest.raises(CheckpointError, match="classes"):
        train_expressions(other, other, TrainConfig(out_dir=str(tmp_path / "b"), width=16, input_size=24, epochs=1,
                                                    batch_size=8, tta_flip=False, init_from=str(ckpt)))


def test_bf16_training_learns_like_fp32(tmp_path):
    """--precision bf16: autocast forward pass, fp32 loss and weights; it still fits the synthetic faces."""
    data = synthetic(10)
    cfg = TrainConfig(out_dir=str(tmp_path / "bf16"), width=8, input_size=24, epochs=8, batch_size=10, lr=1e-2,
                      warmup_epochs=0.5, label_smoothing=0.0, patience=20, tta_flip=False, checkpoint_every=0,
                      augment=MILD, precision="bf16")
    summary = train_expressions(data, data, cfg)
    assert summary["best_val_acc"] >= 0.9
    state, _ = load_model_checkpoint(tmp_path / "bf16" / "best.safetensors")
    assert all(v.dtype == torch.float32 for v in state.values() if v.is_floating_point())


def test_distillation_and_mixup_train_a_student_towards_its_teacher(tmp_path):
    """--teacher: a small student learns from a trained teacher's soft targets (with mixup on)."""
    data = synthetic(10)
    teacher_cfg = TrainConfig(out_dir=str(tmp_path / "teacher"), width=8, input_size=24, epochs=8, batch_size=10,
                              lr=1e-2, warmup_epochs=0.5, label_smoothing=0.0, patience=20, tta_flip=False,
                              checkpoint_every=0, augment=MILD)
    train_expressions(data, data, teacher_cfg)
    teacher = str(tmp_path / "teacher" / "best.safetensors")
    student_cfg = TrainConfig(out_dir=str(tmp_path / "student"), width=4, input_size=24, epochs=8, batch_size=10,
                              lr=1e-2, warmup_epochs=0.5, label_smoothing=0.0, patience=20, tta_flip=False,
                              checkpoint_every=0, augment=MILD, teacher=teacher, distill_weight=0.7, mixup=0.2)
    summary = train_expressions(data, data, student_cfg)
    assert summary["best_val_acc"] >= 0.8
    student = create_model(str(tmp_path / "student" / "best.safetensors"))
    agree = (student.predict(data.images)[0].argmax(1) == create_model(teacher).predict(data.images)[0].argmax(1))
    assert agree.mean() >= 0.8


def test_distillation_loss_is_zero_for_equal_outputs_and_positive_otherwise():
    a = torch.tensor([[2.0, 0.0, -1.0]])
    assert float(tx.distillation_loss(a, a, 4.0)) == pytest.approx(0.0, abs=1e-7)
    assert float(tx.distillation_loss(a, a.flip(1), 4.0)) > 0


def test_teacher_with_other_classes_is_refused(tmp_path):
    data = synthetic(2)
    other = tmp_path / "other"
    save_model_checkpoint(other, ExprNet(3, 8), model_config(TrainConfig(width=8, input_size=24), ("a", "b", "c")))
    with pytest.raises(CheckpointError, match="teacher classes"):
        tx.load_teacher(other.with_suffix(".safetensors"), data.classes, 24, torch.device("cpu"))
