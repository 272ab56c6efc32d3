"""Training and evaluation of MIMAMO-Net (``vidaffect train mimamo``, ``vidaffect eval va``).

Recipe of the reference (Aff-Wild): loss = negative sum of the per-output CCC over the
flattened batch*time (``loss="mse"`` optional); SGD lr 1e-3, momentum 0.9, weight decay
5e-4, lr x0.1 at epochs 10 and 20, up to 25 epochs, early stop after 5 epochs without
validation-CCC gain, batch 16, k-fold cross-validation over videos.  Validation runs
every video with non-overlapping windows (last one aligned to the end) and may apply
the rescale correction (:func:`vidaffect.evaluation.va_metrics.rescale_predictions`).

Checkpoints are written in the original format: ``fold_{i}_checkpoint.pth.tar`` (every
epoch), ``fold_{i}_best_loss.pth.tar`` and ``fold_{i}_best_ccc.pth.tar``; the GRU of
models trained here recurs over time (the ``vidaffect`` metadata in the file says so).
"""
from __future__ import annotations

import csv
import json
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from vidaffect.errors import VidaffectError
from vidaffect.evaluation.va_metrics import rescale_predictions, va_report
from vidaffect.models.mimamo.checkpoints import save_mimamo_checkpoint
from vidaffect.models.mimamo.dataset import FaceDataset
from vidaffect.models.mimamo.network import TwoStreamRNN
from vidaffect.models.mimamo.sampler import merge_window_predictions, snippet_windows
from vidaffect.utils.atomic import atomic_path, atomic_write_text


@dataclass
class MimamoTrainConfig:
    out_dir: str = "runs/mimamo"
    epochs: int = 25
    batch_size: int = 16
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 5e-4
    milestones: tuple[int, ...] = (10, 20)
    gamma: float = 0.1
    patience: int = 5
    folds: int = 5
    only_fold: int | None = None  # run a single fold
    loss: str = "ccc"  # or "mse"
    length: int = 64
    stride: int = 32
    rescale: bool = False
    label_name: str = "valence_arousal"
    seed: int = 0
    device: str = "cpu"
    max_steps_per_epoch: int = 0  # 0: whole epoch


def ccc_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Negative sum over outputs of the CCC of ``(..., D)`` tensors, flattened over all but the last axis."""
    p, t = pred.reshape(-1, pred.shape[-1]), target.reshape(-1, target.shape[-1])
    mp, mt = p.mean(0), t.mean(0)
    vp, vt = p.var(0, unbiased=False), t.var(0, unbiased=False)
    cov = ((p - mp) * (t - mt)).mean(0)
    return -(2 * cov / (vp + vt + (mp - mt) ** 2 + 1e-8)).sum()


def length_batches(ds: FaceDataset, batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of items whose windows have the same length (short videos give short windows)."""
    groups: dict[int, list[int]] = {}
    for i, (_, s, e) in enumerate(ds.items):
        groups.setdefault(e - s, []).append(i)
    batches = []
    for idx in groups.values():
        rng.shuffle(idx)
        batches += [idx[k:k + batch_size] for k in range(0, len(idx), batch_size)]
    rng.shuffle(batches)
    return batches


def _collate(ds: FaceDataset, idx: list[int], device: str) -> tuple[torch.Tensor, ...]:
    items = [ds[i] for i in idx]
    l1 = torch.stack([it[0][0] for it in items]).to(device)
    l2 = torch.stack([it[0][1] for it in items]).to(device)
    rgb = torch.stack([it[1] for it in items]).to(device)
    lab = torch.stack([it[2] for it in items]).to(device)
    return l1, l2, rgb, lab


@torch.no_grad()
def predict_videos(net: TwoStreamRNN, ds: FaceDataset, length: int, device: str = "cpu") -> list[np.ndarray]:
    """Per-frame predictions ``(N_v, D)`` of every video of ``ds`` (test-mode windows, later windows win)."""
    net.eval()
    out = []
    for vid, rec in enumerate(ds.videos):
        n = len(rec["frames"])
        wins = snippet_windows(n, length, length)
        preds = []
        for s, e in wins:
            l1, l2, rgb, _ = ds.video_inputs(vid, s, e)
            preds.append(net(l1[None].to(device), l2[None].to(device), rgb[None].to(device))[0].cpu().numpy())
        out.append(merge_window_predictions(n, wins, preds))
    return out


def evaluate(net: TwoStreamRNN, ds: FaceDataset, length: int, device: str = "cpu",
             train_std: np.ndarray | None = None) -> tuple[dict, float]:
    """VA report over all frames of ``ds`` and the loss of the concatenated series."""
    preds = predict_videos(net, ds, length, device)
    pred = np.concatenate(preds)
    true = np.concatenate([rec["labels"] for rec in ds.videos])
    if train_std is not None:
        pred = rescale_predictions(pred, train_std)
    loss = float(ccc_loss(torch.from_numpy(pred), torch.from_numpy(true)))
    dims = tuple(ds.labels)
    return va_report(pred, true, dims), loss


def kfold_videos(videos: list[str], folds: int, seed: int) -> list[tuple[list[str], list[str]]]:
    """``folds`` (train, validation) splits of the video list."""
    if folds < 2:
        raise VidaffectError("--folds must be >= 2 (the validation fold drives early stopping)")
    if len(videos) < folds:
        raise VidaffectError(f"{len(videos)} videos cannot be split into {folds} folds")
    order = list(videos)
    random.Random(seed).shuffle(order)
    parts = [order[i::folds] for i in range(folds)]
    return [([v for j, p in enumerate(parts) if j != i for v in p], parts[i]) for i in range(folds)]


def train_mimamo(root: str | Path, annotations: str | Path, videos: list[str] | None = None,
                 feature_path: str | Path | None = None, cache_dir: str | Path | None = None,
                 feature_fn: Callable | None = None, config: MimamoTrainConfig | None = None,
                 log: Callable[[str], None] = print) -> dict:
    """Train MIMAMO-Net with k-fold cross-validation; returns (and writes) a summary."""
    cfg = config or MimamoTrainConfig()
    root = Path(root)
    if not root.is_dir():
        raise VidaffectError(f"{root}: data folder not found")
    if videos is None:
        videos = sorted(p.name for p in root.iterdir() if p.is_dir())
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    common = dict(root_path=root, feature_path=feature_path, annot_dir=annotations, label_name=cfg.label_name,
                  length=cfg.length, cache_dir=cache_dir, feature_fn=feature_fn)
    summary = {"config": asdict(cfg), "folds": []}
    splits = kfold_videos(videos, cfg.folds, cfg.seed)
    for fold, (train_v, val_v) in enumerate(splits):
        if cfg.only_fold is not None and fold != cfg.only_fold:
            continue
        train_ds = FaceDataset(video_name_list=train_v, stride=cfg.stride, seed=cfg.seed + fold, **common)
        val_ds = FaceDataset(video_name_list=val_v, stride=cfg.length, augment=False, **common)
        train_ds.prepare_cache(lambda v: log(f"caching phase differences of {v}"))
        val_ds.prepare_cache(lambda v: log(f"caching phase differences of {v}"))
        if len(train_ds) == 0:
            raise VidaffectError(f"fold {fold}: no training snippets (check crops, features and annotations)")
        train_std = np.concatenate([r["labels"] for r in train_ds.videos]).std(0) if cfg.rescale else None
        summary["folds"].append(_train_fold(fold, train_ds, val_ds, train_std, cfg, out, log))
    done = [f for f in summary["folds"]]
    summary["mean_best_ccc"] = float(np.mean([f["best_ccc"] for f in done])) if done else float("nan")
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2, default=float))
    return summary


def _train_fold(fold: int, train_ds: FaceDataset, val_ds: FaceDataset, train_std, cfg: MimamoTrainConfig,
                out: Path, log: Callable[[str], None]) -> dict:
    net = TwoStreamRNN().to(cfg.device)
    opt = torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(cfg.milestones), gamma=cfg.gamma)
    rng = random.Random(cfg.seed * 1000 + fold)
    best_ccc, best_loss, stale = -float("inf"), float("inf"), 0
    history = []
    log_path = out / f"fold_{fold}_log.csv"
    for epoch in range(cfg.epochs):
        t0 = time.time()
        net.train()
        losses = []
        batches = length_batches(train_ds, cfg.batch_size, rng)
        bar = tqdm(batches, desc=f"fold {fold} epoch {epoch}", unit="batch", leave=False, disable=None)
        for step, idx in enumerate(bar):
            if cfg.max_steps_per_epoch and step >= cfg.max_steps_per_epoch:
                break
            l1, l2, rgb, lab = _collate(train_ds, idx, cfg.device)
            if lab.shape[0] * lab.shape[1] < 2:
                continue  # BatchNorm and CCC need at least two frames
            pred = net(l1, l2, rgb)
            loss = ccc_loss(pred, lab) if cfg.loss == "ccc" else torch.nn.functional.mse_loss(pred, lab)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            bar.set_postfix(loss=f"{losses[-1]:.3f}", refresh=False)
        bar.close()
        sched.step()
        report, val_loss = evaluate(net, val_ds, cfg.length, cfg.device, train_std)
        val_ccc = float(np.nanmean([report[d]["ccc"] for d in report]))
        row = {"epoch": epoch, "train_loss": float(np.mean(losses)) if losses else float("nan"),
               "val_loss": val_loss, "val_ccc": val_ccc, "lr": opt.param_groups[0]["lr"],
               **{f"val_ccc_{d}": report[d]["ccc"] for d in report}, "seconds": time.time() - t0}
        history.append(row)
        _write_log(log_path, history)
        log(f"fold {fold} epoch {epoch}: train loss {row['train_loss']:.4f}, val loss {val_loss:.4f}, "
            f"val CCC " + ", ".join(f"{d} {report[d]['ccc']:.3f}" for d in report))
        save_mimamo_checkpoint(out / f"fold_{fold}_checkpoint.pth.tar", net, epoch)
        if val_loss < best_loss:
            best_loss = val_loss
            save_mimamo_checkpoint(out / f"fold_{fold}_best_loss.pth.tar", net, epoch)
        if val_ccc > best_ccc:
            best_ccc, stale = val_ccc, 0
            save_mimamo_checkpoint(out / f"fold_{fold}_best_ccc.pth.tar", net, epoch,
                                   {"val_ccc": val_ccc, "labels": list(train_ds.labels)})
        else:
            stale += 1
            if stale >= cfg.patience:
                log(f"fold {fold}: early stop after {epoch + 1} epochs ({cfg.patience} without CCC gain)")
                break
    return {"fold": fold, "best_ccc": best_ccc, "best_loss": best_loss, "epochs": len(history),
            "train_videos": [r["name"] for r in train_ds.videos], "val_videos": [r["name"] for r in val_ds.videos],
            "history": history}


def _write_log(path: Path, rows: list[dict]) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
