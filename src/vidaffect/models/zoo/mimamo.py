"""``mimamo``: MIMAMO-Net valence/arousal per face track (original checkpoints or ones trained here).

Streaming: every face track keeps a rolling buffer of its gray 48x48 frames, ResNet
features, result rows and frame numbers (frames without that face are simply not in
the buffer, as in the reference, where missing OpenFace frames are skipped).  A
window ``[s, s + length)`` is run, and rows ``[s, s + stride)`` are answered, as soon
as the buffer is long enough that no later window (including the end-aligned last
one) can cover those rows; ``finish()`` runs the remaining windows.  The answers are
identical to running the whole track at once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from vidaffect.errors import ModelError
from vidaffect.models.base import CropSpec, EmotionModel, FaceBatch, ModelOutput
from vidaffect.models.mimamo.checkpoints import (
    load_strict, read_mimamo_checkpoint, read_resnet_checkpoint,
)
from vidaffect.models.mimamo.inference import MimamoRunner
from vidaffect.models.mimamo.network import TwoStreamRNN
from vidaffect.models.mimamo.resnet50_ferplus_dag import Resnet50FerplusDag
from vidaffect.models.mimamo.sampler import snippet_windows
from vidaffect.models.registry import register_model
from vidaffect.motion.phase import PhaseDiffConfig


@dataclass
class _Track:
    gray: list[torch.Tensor] = field(default_factory=list)  # (48, 48) each
    feats: list[torch.Tensor] = field(default_factory=list)  # (2048,) each
    rows: list[int] = field(default_factory=list)
    offset: int = 0  # clip index of gray[0]
    next_start: int = 0  # clip index of the next window to run
    total: int = 0  # frames seen so far

    def trim(self, keep_from: int) -> None:
        drop = max(0, keep_from - self.offset)
        if drop:
            del self.gray[:drop], self.feats[:drop], self.rows[:drop]
            self.offset += drop


class MimamoModel(EmotionModel):
    """Per-track temporal VA model (see module docstring)."""

    name = "mimamo"
    classes = ()
    crop = CropSpec(size=112, color="rgb", kind="aligned")
    va_source = "model:mimamo"
    temporal = True

    def __init__(self, runner: MimamoRunner, info: dict | None = None) -> None:
        super().__init__()
        self.runner = runner
        self.info = dict(info or {})
        self.info.update(length=runner.length, stride=runner.stride)
        self.tracks: dict[int, _Track] = {}

    def reset(self) -> None:
        self.tracks = {}

    def process(self, batch: FaceBatch) -> list[ModelOutput]:
        if len(batch) == 0:
            return []
        crops = np.asarray(batch.crops)
        if crops.ndim != 4 or crops.shape[-1] != 3:
            raise ModelError(f"mimamo needs RGB crops (N, H, W, 3), got shape {crops.shape}")
        gray = self.runner.gray(crops)
        feats = self.runner.resnet_features(crops)
        order = np.lexsort((batch.frame_indices, batch.face_ids))  # per track, in frame order
        touched = []
        for i in order:
            fid = int(batch.face_ids[i])
            tr = self.tracks.setdefault(fid, _Track())
            tr.gray.append(gray[i])
            tr.feats.append(feats[i])
            tr.rows.append(int(batch.row_ids[i]))
            tr.total += 1
            if fid not in touched:
                touched.append(fid)
        outs = []
        for fid in touched:
            outs.extend(self._run_ready(self.tracks[fid]))
        return outs

    def _run_ready(self, tr: _Track) -> list[ModelOutput]:
        r = self.runner
        L, S, ctx = r.length, r.stride, r.context
        outs = []
        while tr.total >= tr.next_start + max(S + L, L + ctx):
            s = tr.next_start
            pred = self._window(tr, s, s + L, tr.total)
            outs.append(self._output(tr, s, s + S, pred[:S]))
            tr.next_start += S
            tr.trim(min(tr.next_start, tr.total - L) - ctx)
        return outs

    def _window(self, tr: _Track, s: int, e: int, n_avail: int) -> np.ndarray:
        lo = max(0, s - self.runner.context)
        hi = min(n_avail, e + self.runner.context)
        assert lo >= tr.offset, "window needs frames already dropped from the buffer"
        gray = torch.stack(tr.gray[lo - tr.offset:hi - tr.offset])
        feats = torch.stack(tr.feats[lo - tr.offset:hi - tr.offset])
        return self.runner.predict_window(gray, feats, s - lo, e - lo)

    def _output(self, tr: _Track, s: int, e: int, pred: np.ndarray) -> ModelOutput:
        rows = np.asarray(tr.rows[s - tr.offset:e - tr.offset], dtype=np.int64)
        return ModelOutput(rows, valence=pred[:, 0].astype(np.float32), arousal=pred[:, 1].astype(np.float32))

    def pending_from(self) -> int | None:
        """Rows of every track from its first frame not yet predicted (``next_start``) on are still open."""
        firsts = [tr.rows[tr.next_start - tr.offset] for tr in self.tracks.values()
                  if tr.total > tr.next_start and tr.next_start >= tr.offset]
        return min(firsts) if firsts else None

    def finish(self) -> list[ModelOutput]:
        outs = []
        L, S = self.runner.length, self.runner.stride
        for tr in self.tracks.values():
            n = tr.total
            if n <= tr.next_start:
                continue
            all_wins = snippet_windows(n, L, S)
            # rows >= next_start get their final values from windows starting there or later, and from the
            # end-aligned last window (S <= L guarantees the coverage)
            wins = [w for w in all_wins[:-1] if w[0] >= tr.next_start] + all_wins[-1:]
            merged: dict[int, np.ndarray] = {}
            for s, e in wins:
                pred = self._window(tr, s, e, n)
                for k in range(max(s, tr.next_start), e):
                    merged[k] = pred[k - s]  # later windows overwrite
            idx = sorted(merged)
            pred = np.stack([merged[k] for k in idx])
            rows = np.asarray([tr.rows[k - tr.offset] for k in idx], dtype=np.int64)
            outs.append(ModelOutput(rows, valence=pred[:, 0].astype(np.float32), arousal=pred[:, 1].astype(np.float32)))
            tr.next_start = n
        self.tracks = {}
        return outs


def build_mimamo(checkpoint: Any = None, resnet_checkpoint: Any = None, legacy_gru_axis: bool | None = None,
                 legacy_unwrap: bool | None = None, device: str = "cpu", pretrained: bool = True,
                 length: int = 64, stride: int = 64) -> MimamoModel:
    """Build the model; ``pretrained=False`` with no checkpoints gives random weights (tests)."""
    if not 1 <= stride <= length:
        raise ModelError(f"mimamo: stride ({stride}) must be between 1 and length ({length})")
    net, resnet = TwoStreamRNN(), Resnet50FerplusDag()
    meta: dict[str, Any] = {}
    if checkpoint is not None:
        state, meta = read_mimamo_checkpoint(checkpoint)
        load_strict(net, state, checkpoint)
    elif pretrained:
        raise ModelError("model 'mimamo' has no shipped weights: pass --checkpoint model_weights.pth.tar")
    if resnet_checkpoint is not None:
        load_strict(resnet, read_resnet_checkpoint(resnet_checkpoint), resnet_checkpoint)
    elif pretrained:
        raise ModelError("model 'mimamo' needs the ResNet-50 FER+ weights: pass --resnet-checkpoint "
                         "resnet50_ferplus_dag.pth")
    if legacy_gru_axis is None:
        legacy_gru_axis = meta.get("gru_axis") == "batch"
    if legacy_unwrap is None:
        legacy_unwrap = bool(legacy_gru_axis)
    net.legacy_gru_axis = bool(legacy_gru_axis)
    runner = MimamoRunner(net, resnet, device, PhaseDiffConfig(legacy_unwrap=bool(legacy_unwrap)), length, stride)
    info = {"checkpoint": None if checkpoint is None else str(checkpoint),
            "resnet_checkpoint": None if resnet_checkpoint is None else str(resnet_checkpoint),
            "epoch": meta.get("epoch"), "legacy_gru_axis": bool(legacy_gru_axis),
            "legacy_unwrap": bool(legacy_unwrap)}
    return MimamoModel(runner, info)


@register_model("mimamo", "MIMAMO-Net (AAAI 2020): valence/arousal from micro-motion (phase differences) and "
                "macro-motion (ResNet-50 FER+) per face track; needs --checkpoint and --resnet-checkpoint",
                needs_checkpoint=True)
def mimamo(pretrained: bool = True, checkpoint: Any = None, device: str = "cpu", resnet_checkpoint: Any = None,
           legacy_gru_axis: bool | None = None, legacy_unwrap: bool | None = None, length: int = 64,
           stride: int = 64, **_: Any) -> MimamoModel:
    return build_mimamo(checkpoint, resnet_checkpoint, legacy_gru_axis, legacy_unwrap, device, pretrained,
                        length, stride)
