"""DSSN/SSSN training with leave-one-subject-out (LOSO) evaluation.

Defaults follow the reference: cross-entropy, Adam (lr 1e-4), batch 32, 15
epochs, a fresh network per fold.  ``protocol="loso"`` trains one model per
held-out subject and writes per-fold and pooled metrics; ``protocol="full"``
trains one model on every sample (for ``vidaffect micro spot``).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from tqdm import tqdm

from vidaffect.errors import VidaffectError
from vidaffect.micro.datasets import MicroFeatureSet, parse_image_modes
from vidaffect.micro.evaluate import (
    classification_metrics,
    model_config,
    predict_probs,
    predictions_frame,
    write_results,
)
from vidaffect.micro.networks import build_network, combination_name, load_alexnet_init
from vidaffect.models.checkpoint import save_model_checkpoint
from vidaffect.utils.atomic import atomic_write_text

PROTOCOLS = ("loso", "full")


@dataclass
class MicroTrainConfig:
    model: str = "DSSN"
    image_mode: tuple[str, ...] = ("F", "G")
    combination_mode: str = "add"
    num_classes: int | None = None  # None: the number of emotions in the data
    batch_size: int = 32
    epochs: int = 15
    learning_rate: float = 1e-4
    dropout: float = 0.5
    input_size: int = 227
    protocol: str = "loso"
    alexnet: str | None = None  # ImageNet AlexNet state dict for the streams
    seed: int = 0
    threads: int = 0  # 0: torch default
    device: str = "cpu"
    classes: tuple[str, ...] = field(default_factory=tuple)  # restrict to / order these emotions

    def validate(self) -> None:
        self.model = self.model.upper()
        self.image_mode = parse_image_modes(self.image_mode)
        self.combination_mode = combination_name(self.combination_mode)
        want = 1 if self.model == "SSSN" else 2
        if self.model not in ("SSSN", "DSSN"):
            raise VidaffectError(f"unknown model {self.model!r} (choose SSSN or DSSN)")
        if len(self.image_mode) != want:
            raise VidaffectError(f"{self.model} takes {want} image mode(s), got {' '.join(self.image_mode)}")
        if self.protocol not in PROTOCOLS:
            raise VidaffectError(f"unknown protocol {self.protocol!r} (choose from {', '.join(PROTOCOLS)})")
        if self.epochs < 1 or self.batch_size < 1 or self.learning_rate <= 0:
            raise VidaffectError("epochs and batch size must be >= 1 and the learning rate > 0")


def loso_folds(subjects: np.ndarray) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(held_out_subject, train_indices, test_indices)`` for every subject, in sorted order."""
    subjects = np.asarray(subjects).astype(str)
    return [
        (s, np.flatnonzero(subjects != s), np.flatnonzero(subjects == s)) for s in sorted(np.unique(subjects))
    ]


def train_network(
    data: MicroFeatureSet, indices: np.ndarray, cfg: MicroTrainConfig, seed: int, log: Callable[[str], None] | None = None
) -> tuple[torch.nn.Module, list[float]]:
    """Train a fresh network on the samples ``indices``; return it and the seconds of each epoch."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = build_network(cfg.model, len(data.classes), cfg.combination_mode, cfg.input_size, cfg.dropout)
    if cfg.alexnet:
        load_alexnet_init(net, cfg.alexnet)
    net.to(cfg.device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.learning_rate)
    labels = torch.from_numpy(data.labels)
    epoch_seconds = []
    for epoch in range(cfg.epochs):
        t0 = time.perf_counter()
        net.train()
        order = rng.permutation(indices)
        total, correct, loss_sum = 0, 0, 0.0
        for start in range(0, len(order), cfg.batch_size):
            batch = order[start : start + cfg.batch_size]
            logits = net(*(x.to(cfg.device) for x in data.inputs(batch, cfg.image_mode)))
            y = labels[batch].to(cfg.device)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(batch)
            correct += int((logits.argmax(1) == y).sum())
            total += len(batch)
        epoch_seconds.append(time.perf_counter() - t0)
        if log:
            log(f"epoch {epoch + 1}/{cfg.epochs}: loss {loss_sum / total:.4f} acc {correct / total:.3f}")
    return net, epoch_seconds


def run_training(
    data: MicroFeatureSet, cfg: MicroTrainConfig, out_dir: str | Path, progress: bool = True
) -> dict[str, Any]:
    """Train and evaluate per ``cfg.protocol``; write checkpoints, results and ``train_log.txt`` under ``out_dir``."""
    cfg.validate()
    if cfg.num_classes is not None and cfg.num_classes != len(data.classes):
        raise VidaffectError(
            f"--num_classes {cfg.num_classes} but the data has {len(data.classes)} emotions ({', '.join(data.classes)}); "
            "use --classes to choose which"
        )
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    log_lines: list[str] = []
    config_json = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()}
    config_json["data"] = str(data.cache_dir)

    def log(msg: str) -> None:
        log_lines.append(msg)

    started = time.perf_counter()
    if cfg.protocol == "full":
        net, secs = train_network(data, np.arange(len(data)), cfg, cfg.seed, log)
        net.cpu()
        path = save_model_checkpoint(out_dir / "model.safetensors", net, model_config(cfg, data.classes, subjects=sorted(set(data.subjects))))
        atomic_write_text(out_dir / "train_log.txt", "\n".join(log_lines) + "\n")
        return {"checkpoint": str(path), "epoch_seconds": secs, "seconds": time.perf_counter() - started}

    folds = loso_folds(data.subjects)
    if len(folds) < 2:
        raise VidaffectError(f"{data.cache_dir}: leave-one-subject-out needs at least 2 subjects, found {len(folds)}")
    fold_rows, preds, epoch_secs = [], [], []
    bar = tqdm(folds, desc="LOSO folds", unit="fold", disable=not progress)
    for i, (subject, train_idx, test_idx) in enumerate(bar):
        log(f"fold {i + 1}/{len(folds)}: held-out subject {subject} ({len(test_idx)} test, {len(train_idx)} train)")
        net, secs = train_network(data, train_idx, cfg, cfg.seed + i, log)
        epoch_secs += secs
        net.cpu()
        save_model_checkpoint(
            out_dir / "folds" / f"fold_{subject}.safetensors", net, model_config(cfg, data.classes, held_out_subject=subject)
        )
        probs = predict_probs(net, data, test_idx, cfg.image_mode, cfg.batch_size)
        frame = predictions_frame(data, test_idx, probs, data.classes, subject)
        m = classification_metrics(frame["true_index"], frame["pred_index"], len(data.classes))
        log(f"fold {subject}: accuracy {m['accuracy']:.3f} weighted F1 {m['weighted_f1']:.3f}")
        fold_rows.append({"subject": subject, "n": len(test_idx), **m})
        preds.append(frame)
        bar.set_postfix(acc=f"{np.mean([r['accuracy'] for r in fold_rows]):.3f}")
    config_json["seconds"] = time.perf_counter() - started
    config_json["seconds_per_epoch_mean"] = float(np.mean(epoch_secs))
    result = write_results(out_dir, pd.DataFrame(fold_rows), pd.concat(preds, ignore_index=True), data.classes, config_json)
    atomic_write_text(out_dir / "train_log.txt", "\n".join(log_lines) + "\n")
    result["epoch_seconds"] = epoch_secs
    return result
