"""Training of the ResNet-18-TSM model (``vidaffect train tsm``), as the VTT Friends reference.

Two stages, each in its own folder under the run directory and each resumable:

1. ``frames``: frame mode (no shift) on still-image expression data sets,
   drawn with a sampling mix between data sets (the reference: 20 % RAF-DB,
   80 % AffectNet) and with neutral images down-weighted (weight 0.33 relative
   to the other classes, our reading of "neutral sampled at 0.33").
2. ``sequences``: clips of T consecutive crops from face-sequence data sets,
   initialised from the best frame-stage weights; the loss is taken at every
   time step, validation scores the inference prediction (mean logits of the
   last two steps of the buffer ending at a frame).

Defaults are the reference's: Adam lr 1e-4, weight decay 5e-5, amsgrad, batch 4,
loss 0.5 * BCE(neutral vs rest) + 0.5 * per-class BCE (``loss="ce"`` for
cross-entropy).  Batches and augmentation of global step ``s`` are drawn from
``seed * 1_000_003 + s``; a resumed run replays exactly the steps not yet done.
Every stage writes ``best``/``last`` checkpoints (safetensors + json),
``state.pt``, ``log.csv``, ``curves.png`` and ``summary.json``.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch

from vidaffect.data.expressions.base import DatasetError, ExpressionData
from vidaffect.data.sequences import SequenceData
from vidaffect.labels import EMOTIONS
from vidaffect.models.checkpoint import load_training_state, save_training_state
from vidaffect.models.tsm.augment import TSMAugment, augment_clips
from vidaffect.models.tsm.checkpoint import load_tsm_checkpoint, save_tsm_checkpoint
from vidaffect.models.tsm.losses import cross_entropy_loss, vtt_loss
from vidaffect.models.tsm.net import ResNet18TSM, clip_prediction_logits
from vidaffect.training.expressions import EpochLog, plot_curves, write_log
from vidaffect.utils.atomic import atomic_write_text

NEUTRAL = EMOTIONS.index("neutral")


@dataclass
class TSMTrainConfig:
    out_dir: str = "runs/tsm"
    input_size: int = 224
    buffer_length: int = 4
    width: int = 64  # channels of the first stage: 64 is ResNet-18
    loss: str = "vtt"  # "vtt" (reference) or "ce"
    lr: float = 1e-4
    weight_decay: float = 5e-5
    batch_size: int = 4  # images (frames stage) or clips (sequences stage)
    epochs: int = 10
    steps_per_epoch: int = 0  # 0: one pass over the data on average
    patience: int = 5
    neutral_weight: float = 0.33
    val_stride: int = 1  # sequences stage: score every k-th frame of the validation clips
    seed: int = 0
    device: str = "cpu"
    threads: int = 0
    checkpoint_every: int = 200  # steps
    augment: TSMAugment = field(default_factory=TSMAugment)


@dataclass
class FrameSource:
    """A still-image data set and its share of the frame-stage sampling mix."""

    data: ExpressionData
    weight: float = 1.0
    name: str = ""


# ---------------------------------------------------------------- data preparation


def to_seven_classes(data: ExpressionData, size: int) -> tuple[np.ndarray, np.ndarray]:
    """RGB uint8 images ``(N, S, S, 3)`` and soft targets ``(N, 7)`` over :data:`EMOTIONS`.

    Classes outside the 7 (contempt) are dropped, as the reference does; gray
    images are repeated to three channels; other sizes are resized.
    """
    missing = [c for c in EMOTIONS if c not in data.classes]
    if missing:
        raise DatasetError(f"data set classes {data.classes} lack {missing}")
    cols = [data.classes.index(c) for c in EMOTIONS]
    if data.soft_labels is not None:
        soft = data.soft_labels[:, cols].astype(np.float32)
        total = soft.sum(1)
        keep = total > 0.5  # mostly-contempt samples dropped
        soft = soft[keep] / total[keep, None]
    else:
        in_set = np.isin(data.labels, cols)
        keep = in_set
        remap = {c: i for i, c in enumerate(cols)}
        soft = np.zeros((int(keep.sum()), 7), np.float32)
        soft[np.arange(len(soft)), [remap[int(v)] for v in data.labels[keep]]] = 1.0
    images = data.images[keep]
    if images.ndim == 3:
        images = np.repeat(images[..., None], 3, axis=3)
    if images.shape[1] != size or images.shape[2] != size:
        interp = cv2.INTER_AREA if images.shape[1] > size else cv2.INTER_LINEAR
        images = np.stack([cv2.resize(im, (size, size), interpolation=interp) for im in images])
    return np.ascontiguousarray(images), soft


def _to_float(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 (..., H, W, 3) -> float (..., 3, H, W) in [0, 1]."""
    x = torch.as_tensor(images)
    return x.movedim(-1, -3).float().div_(255.0)


class FrameMix:
    """Draws frame batches from several data sets with the configured mix and neutral weight."""

    def __init__(self, sources: list[FrameSource], size: int, neutral_weight: float) -> None:
        if not sources:
            raise DatasetError("no frame data sets given")
        self.images, self.targets, self.sample_p = [], [], []
        for s in sources:
            images, soft = to_seven_classes(s.data, size)
            if len(images) == 0:
                raise DatasetError(f"{s.name or 'data set'}: no images of the 7 classes")
            w = np.where(soft.argmax(1) == NEUTRAL, neutral_weight, 1.0)
            self.images.append(torch.from_numpy(images))
            self.targets.append(torch.from_numpy(soft))
            self.sample_p.append(torch.from_numpy(w / w.sum()))
        weights = np.array([s.weight for s in sources], np.float64)
        if (weights < 0).any() or weights.sum() <= 0:
            raise DatasetError(f"sampling weights must be non-negative with a positive sum, got {weights.tolist()}")
        self.source_p = torch.from_numpy(weights / weights.sum())

    def __len__(self) -> int:
        return int(sum(len(t) for t in self.targets))

    def batch(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        src = torch.multinomial(self.source_p, n, replacement=True, generator=gen)
        xs, ys = [], []
        for k in range(len(self.images)):
            m = int((src == k).sum())
            if m:
                idx = torch.multinomial(self.sample_p[k], m, replacement=True, generator=gen)
                xs.append(self.images[k][idx])
                ys.append(self.targets[k][idx])
        return _to_float(torch.cat(xs)), torch.cat(ys)


def _soft(labels: np.ndarray) -> torch.Tensor:
    out = torch.zeros(len(labels), len(EMOTIONS))
    out[torch.arange(len(labels)), torch.from_numpy(labels)] = 1.0
    return out


def clip_window(frames: np.ndarray, labels: np.ndarray, end: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """The buffer ending at frame ``end`` (inclusive), padded at the front with the first frame as at inference."""
    start = max(0, end - length + 1)
    idx = np.concatenate([np.full(length - (end - start + 1), start), np.arange(start, end + 1)])
    return frames[idx], labels[idx]


class ClipSampler:
    """Draws clips of T consecutive frames, clips weighted by their number of windows."""

    def __init__(self, data: SequenceData, length: int) -> None:
        if len(data) == 0:
            raise DatasetError(f"{data.root}: no clips")
        self.data, self.length = data, length
        w = np.array([max(1, len(c) - length + 1) for c in data.clips], np.float64)
        self.p = torch.from_numpy(w / w.sum())

    def __len__(self) -> int:
        return self.data.num_frames

    def batch(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        clip_ids = torch.multinomial(self.p, n, replacement=True, generator=gen).tolist()
        xs, ys = [], []
        for ci in clip_ids:
            clip = self.data.clips[ci]
            hi = max(1, len(clip) - self.length + 1)
            start = int(torch.randint(hi, (1,), generator=gen))
            f, lab = clip_window(clip.frames, clip.labels, min(len(clip) - 1, start + self.length - 1), self.length)
            xs.append(f)
            ys.append(_soft(lab))
        return _to_float(np.stack(xs)), torch.stack(ys)


# ---------------------------------------------------------------- validation


@torch.inference_mode()
def evaluate_frames(net: ResNet18TSM, images: np.ndarray, targets: np.ndarray, loss_fn: Callable,
                    device: str = "cpu", batch_size: int = 64) -> tuple[float, float]:
    """Loss and accuracy of frame-mode predictions on still images."""
    net.eval()
    if len(images) == 0:
        return float("nan"), float("nan")
    logits = torch.cat([net(_to_float(images[i : i + batch_size]).to(device)).float().cpu()
                        for i in range(0, len(images), batch_size)])
    t = torch.from_numpy(targets)
    return float(loss_fn(logits, t)), float((logits.argmax(1) == t.argmax(1)).float().mean())


@torch.inference_mode()
def evaluate_sequences(net: ResNet18TSM, data: SequenceData, length: int, loss_fn: Callable, stride: int = 1,
                       device: str = "cpu", batch_size: int = 16) -> tuple[float, float]:
    """Loss (all steps) and accuracy of the inference prediction at every ``stride``-th frame of every clip."""
    net.eval()
    windows = []
    for clip in data.clips:
        for end in range(0, len(clip), max(1, stride)):
            windows.append(clip_window(clip.frames, clip.labels, end, length))
    if not windows:
        return float("nan"), float("nan")
    total_loss, correct = 0.0, 0
    for i in range(0, len(windows), batch_size):
        chunk = windows[i : i + batch_size]
        x = _to_float(np.stack([w[0] for w in chunk])).to(device)
        y = torch.stack([_soft(w[1]) for w in chunk])
        logits = net(x).float().cpu()
        total_loss += float(loss_fn(logits, y)) * len(chunk)
        pred = clip_prediction_logits(logits, 2).argmax(1)
        correct += int((pred == y[:, -1].argmax(1)).sum())
    return total_loss / len(windows), correct / len(windows)


# ---------------------------------------------------------------- the loop


def _loss_fn(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if name == "vtt":
        return lambda logits, y: vtt_loss(logits, y, NEUTRAL)
    if name == "ce":
        return cross_entropy_loss
    raise ValueError(f"unknown loss {name!r}; known: vtt, ce")


def _adam(net: ResNet18TSM, cfg: TSMTrainConfig) -> torch.optim.Adam:
    """Adam with amsgrad, fused where the device supports it (several times faster on CPU)."""
    kw = dict(lr=cfg.lr, weight_decay=cfg.weight_decay, amsgrad=True)
    try:
        return torch.optim.Adam(net.parameters(), fused=True, **kw)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(net.parameters(), **kw)


def _fit(stage: str, net: ResNet18TSM, draw: Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor]],
         data_size: int, validate: Callable[[ResNet18TSM], tuple[float, float]], cfg: TSMTrainConfig, resume: bool,
         say: Callable[[str], None], extra_meta: dict) -> dict:
    out = Path(cfg.out_dir) / stage
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device(cfg.device)
    net.to(device)
    loss_fn = _loss_fn(cfg.loss)
    opt = _adam(net, cfg)
    per_step = cfg.batch_size * (cfg.buffer_length if stage == "sequences" else 1)  # frames seen per step
    steps = cfg.steps_per_epoch or max(1, math.ceil(data_size / per_step))
    start_epoch, start_step, best_acc, best_epoch, history, done = 0, 0, -1.0, -1, [], False
    run = [0.0, 0.0, 0.0]  # loss sum, correct, seen
    state_path = out / "state.pt"
    if resume and state_path.exists():
        st = load_training_state(state_path)
        net.load_state_dict(st["model"])
        opt.load_state_dict(st["optimizer"])
        start_epoch, start_step = int(st["epoch"]), int(st["step_in_epoch"])
        best_acc, best_epoch, done = float(st["best_acc"]), int(st["best_epoch"]), bool(st["done"])
        history = [EpochLog(**h) for h in json.loads(st["history"])]
        run = [float(v) for v in st["running"]]
        if done or start_epoch >= cfg.epochs:
            say(f"{stage}: already complete ({len(history)} epochs{', early stop' if done else ''})")
        else:
            say(f"{stage}: resumed at epoch {start_epoch + 1}, step {start_step}")

    def save_state(epoch: int, step: int, finished: bool = False) -> None:
        save_training_state(state_path, {
            "model": net.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch, "step_in_epoch": step,
            "best_acc": best_acc, "best_epoch": best_epoch, "done": finished, "running": run,
            "history": json.dumps([asdict(h) for h in history]), "config": json.dumps(asdict(cfg)),
        })

    meta_base = {"stage": stage, "train_config": asdict(cfg), **extra_meta}
    for epoch in range(start_epoch, cfg.epochs if not done else start_epoch):
        if best_epoch >= 0 and epoch - best_epoch > cfg.patience:
            say(f"{stage}: early stop, no validation improvement for {cfg.patience} epochs")
            done = True
            save_state(epoch, 0, finished=True)
            break
        t0 = time.perf_counter()
        net.train()
        first = start_step if epoch == start_epoch else 0
        if first == 0:
            run = [0.0, 0.0, 0.0]
        for step in range(first, steps):
            gstep = epoch * steps + step
            gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + gstep)
            x, y = draw(cfg.batch_size, gen)
            x = augment_clips(x, cfg.augment, gen).to(device)
            y = y.to(device)
            logits = net(x)
            loss = loss_fn(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            hits = (logits.detach().argmax(-1) == y.argmax(-1)).float()
            run[0] += float(loss.detach()) * hits.numel()
            run[1] += float(hits.sum())
            run[2] += hits.numel()
            if cfg.checkpoint_every and (step + 1) % cfg.checkpoint_every == 0 and step + 1 < steps:
                save_state(epoch, step + 1)
        val_loss, val_acc = validate(net)
        log = EpochLog(epoch + 1, run[0] / max(run[2], 1), run[1] / max(run[2], 1), val_loss, val_acc,
                       opt.param_groups[0]["lr"], time.perf_counter() - t0)
        history.append(log)
        meta = {**meta_base, "epoch": epoch + 1, "val_acc": val_acc}
        if math.isnan(val_acc) or val_acc > best_acc:  # without validation data the latest epoch is the best
            best_acc, best_epoch = (best_acc if math.isnan(val_acc) else val_acc), epoch
            save_tsm_checkpoint(out / "best", net.cpu(), EMOTIONS, cfg.input_size, meta)
            net.to(device)
        save_tsm_checkpoint(out / "last", net.cpu(), EMOTIONS, cfg.input_size, meta)
        net.to(device)
        save_state(epoch + 1, 0)
        write_log(out / "log.csv", history)
        plot_curves(out / "curves.png", history)
        say(f"{stage} epoch {log.epoch}/{cfg.epochs} train_loss {log.train_loss:.4f} train_acc {log.train_acc:.4f} "
            f"val_loss {log.val_loss:.4f} val_acc {log.val_acc:.4f} ({log.seconds:.0f}s)")
    summary = {"stage": stage, "best_val_acc": best_acc, "best_epoch": best_epoch + 1, "epochs_run": len(history),
               "steps_per_epoch": steps, "best_checkpoint": str(out / "best.safetensors"), "out_dir": str(out)}
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2))
    return summary


def _new_net(cfg: TSMTrainConfig) -> ResNet18TSM:
    torch.manual_seed(cfg.seed)
    return ResNet18TSM(len(EMOTIONS), cfg.buffer_length, width=cfg.width)


def train_tsm_frames(sources: list[FrameSource], val: ExpressionData | None, cfg: TSMTrainConfig, resume: bool = False,
                     progress: Callable[[str], None] | None = None) -> dict:
    """Stage 1: frame-mode training on still images; writes ``<out_dir>/frames/``."""
    say = progress or (lambda msg: None)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    mix = FrameMix(sources, cfg.input_size, cfg.neutral_weight)
    val_images, val_targets = to_seven_classes(val, cfg.input_size) if val is not None else (np.zeros((0,)), None)
    loss_fn = _loss_fn(cfg.loss)

    def validate(net: ResNet18TSM) -> tuple[float, float]:
        if val_targets is None:
            return float("nan"), float("nan")
        return evaluate_frames(net, val_images, val_targets, loss_fn, cfg.device)

    meta = {"frame_sources": [{"name": s.name, "weight": s.weight, "images": len(s.data)} for s in sources]}
    return _fit("frames", _new_net(cfg), mix.batch, len(mix), validate, cfg, resume, say, meta)


def train_tsm_sequences(train: SequenceData, val: SequenceData | None, cfg: TSMTrainConfig,
                        init_checkpoint: str | Path | None = None, resume: bool = False,
                        progress: Callable[[str], None] | None = None) -> dict:
    """Stage 2: clip training on face sequences (optionally from a frame-stage checkpoint); ``<out_dir>/sequences/``."""
    say = progress or (lambda msg: None)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    net = _new_net(cfg)
    if init_checkpoint is not None:
        init, _ = load_tsm_checkpoint(init_checkpoint)
        net.load_state_dict(init.state_dict())
        say(f"sequences: initialised from {init_checkpoint}")
    sampler = ClipSampler(train, cfg.buffer_length)
    loss_fn = _loss_fn(cfg.loss)

    def validate(n: ResNet18TSM) -> tuple[float, float]:
        if val is None:
            return float("nan"), float("nan")
        return evaluate_sequences(n, val, cfg.buffer_length, loss_fn, cfg.val_stride, cfg.device)

    meta = {"init_checkpoint": None if init_checkpoint is None else str(init_checkpoint),
            "sequence_clips": len(train), "sequence_frames": train.num_frames}
    return _fit("sequences", net, sampler.batch, len(sampler), validate, cfg, resume, say, meta)
