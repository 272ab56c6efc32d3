"""``resnet18-tsm``: the VTT Friends temporal model as an analyze model.

Every face track keeps a rolling buffer of its last T square crops (as layer1
features, computed once per crop); each new
crop is classified from the buffer ending at it (padded at the front with the
oldest crop while the track is younger than T frames), and the prediction is
the mean of the logits of the last two time steps, as the reference does.
Clips of all faces in a batch run through the network together.  Answers are
immediate (no look-ahead), so ``finish`` has nothing left to flush.
"""
from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vidaffect.errors import ModelError
from vidaffect.labels import EMOTIONS
from vidaffect.models.base import CropSpec, EmotionModel, FaceBatch, FrameEmotionModel, ModelOutput
from vidaffect.models.registry import register_arch_loader, register_model
from vidaffect.models.tsm.checkpoint import CROP_MARGIN, DEFAULT_BUFFER, DEFAULT_INPUT_SIZE, load_tsm_checkpoint
from vidaffect.models.tsm.net import ResNet18TSM


class _Track:
    __slots__ = ("feats", "last_time")

    def __init__(self, length: int) -> None:
        self.feats: deque[torch.Tensor] = deque(maxlen=length)  # layer1 features of the last crops
        self.last_time = -np.inf


class TSMEmotionModel(EmotionModel):
    """Per-track rolling buffers through :class:`ResNet18TSM`.

    The buffers hold each crop's layer1 features (computed once per crop: the
    shift only starts after layer1), so a new frame costs one stem + layer1
    pass plus layer2..4 over the buffer; results equal running the whole
    network on the buffered crops.  ``max_gap_s``: a track unseen for longer
    than this starts a fresh buffer (and buffers of tracks gone that long are
    dropped).  ``max_clips`` bounds how many clips go through the network at once.
    """

    temporal = True

    def __init__(self, net: ResNet18TSM, classes: tuple[str, ...] = EMOTIONS, input_size: int = DEFAULT_INPUT_SIZE,
                 buffer_length: int = DEFAULT_BUFFER, device: str = "cpu", max_gap_s: float = 1.0,
                 max_clips: int = 16, name: str = "resnet18-tsm", info: dict | None = None) -> None:
        super().__init__()
        if int(input_size) < 32:
            raise ModelError(f"input size {input_size} is too small for ResNet-18 (at least 32 px)")
        if int(buffer_length) < 1:
            raise ModelError(f"buffer length {buffer_length} must be at least 1")
        self.net = net.to(device).eval()
        self.name, self.classes = name, tuple(classes)
        self.input_size, self.buffer_length = int(input_size), int(buffer_length)
        self.crop = CropSpec(size=self.input_size, color="rgb", kind="square", margin=CROP_MARGIN)
        self.device, self.max_gap_s, self.max_clips = device, float(max_gap_s), int(max_clips)
        self.info = {**(info or {}), "input_size": self.input_size, "buffer_length": self.buffer_length,
                     "prediction": "mean logits of the last 2 buffer steps"}
        self._tracks: dict[int, _Track] = {}

    def reset(self) -> None:
        self._tracks = {}

    def _check(self, crops: np.ndarray) -> None:
        want = (self.input_size, self.input_size, 3)
        if crops.ndim != 4 or crops.shape[1:] != want:
            raise ModelError(f"{self.name}: expected RGB crops of shape (N, {want[0]}, {want[1]}, 3), "
                             f"got {crops.shape}")

    def _windows(self, batch: FaceBatch, feats: torch.Tensor) -> list[list[torch.Tensor]]:
        """Update the track buffers in row order; return the buffer ending at each row (front-padded to T)."""
        windows = []
        for i in range(len(batch)):
            fid, t = int(batch.face_ids[i]), float(batch.times[i])
            track = _Track(self.buffer_length) if fid < 0 else self._tracks.get(fid)
            if track is None or t - track.last_time > self.max_gap_s or t < track.last_time:
                track = _Track(self.buffer_length)
                if fid >= 0:
                    self._tracks[fid] = track
            track.feats.append(feats[i].clone())  # not a view: the batch tensor can go
            track.last_time = t
            buf = list(track.feats)
            windows.append([buf[0]] * (self.buffer_length - len(buf)) + buf)
        now = float(np.max(batch.times))
        for fid in [f for f, tr in self._tracks.items() if now - tr.last_time > self.max_gap_s]:
            del self._tracks[fid]
        return windows

    def _to_tensor(self, images: np.ndarray) -> torch.Tensor:
        return _to_tensor(images, self.device)

    @torch.inference_mode()
    def clip_logits(self, clips: np.ndarray) -> torch.Tensor:
        """Prediction logits ``(N, C)`` of uint8 clips ``(N, T, H, W, 3)`` (no track state involved)."""
        outs = []
        for i in range(0, len(clips), self.max_clips):
            outs.append(self.net.predict_last(self._to_tensor(clips[i : i + self.max_clips]), 2).float().cpu())
        return torch.cat(outs) if outs else torch.zeros(0, len(self.classes))

    @torch.inference_mode()
    def process(self, batch: FaceBatch) -> list[ModelOutput]:
        if len(batch) == 0:
            return []
        self._check(batch.crops)
        feats = torch.cat([self.net.frame_features(self._to_tensor(batch.crops[i : i + self.max_clips]))
                           for i in range(0, len(batch), self.max_clips)])
        windows = self._windows(batch, feats)
        logits = []
        for i in range(0, len(windows), self.max_clips):
            clips = torch.stack([torch.stack(w) for w in windows[i : i + self.max_clips]])
            logits.append(self.net.predict_last_from_features(clips, 2))
        probs = torch.softmax(torch.cat(logits).float(), dim=1).cpu().numpy().astype(np.float32)
        return [ModelOutput(np.asarray(batch.row_ids), probs)]

    def predict(self, crops: np.ndarray) -> tuple[np.ndarray, None]:
        """Frame mode for still images (``(N, S, S, 3)`` uint8): probabilities ``(N, C)``, no VA.

        Equal to feeding a buffer of T copies of each image; keeps no state.
        """
        self._check(crops)
        return _frame_probs(self.net, crops, self.device), None


class TSMFrameModel(FrameEmotionModel):
    """The same network in frame mode (no buffer, no shift): every crop on its own.

    For evaluation on still images (``vidaffect eval expressions``) and as a
    frame-only baseline in analyze.  Identical to the temporal model fed T
    copies of one crop.
    """

    def __init__(self, net: ResNet18TSM, classes: tuple[str, ...] = EMOTIONS, input_size: int = DEFAULT_INPUT_SIZE,
                 device: str = "cpu", name: str = "resnet18-tsm-frame", info: dict | None = None) -> None:
        super().__init__()
        if int(input_size) < 32:
            raise ModelError(f"input size {input_size} is too small for ResNet-18 (at least 32 px)")
        self.net, self.device = net.to(device).eval(), device
        self.name, self.classes = name, tuple(classes)
        self.crop = CropSpec(size=int(input_size), color="rgb", kind="square", margin=CROP_MARGIN)
        self.info = {**(info or {}), "input_size": int(input_size), "mode": "frame (no temporal shift)"}

    def predict(self, crops: np.ndarray) -> tuple[np.ndarray, None]:
        if crops.ndim != 4 or crops.shape[1:] != (self.crop.size, self.crop.size, 3):
            raise ModelError(f"{self.name}: expected RGB crops of shape (N, {self.crop.size}, {self.crop.size}, 3), "
                             f"got {crops.shape}")
        return _frame_probs(self.net, crops, self.device), None


def _to_tensor(images: np.ndarray, device: str) -> torch.Tensor:
    """uint8 (..., H, W, 3) -> float (..., 3, H, W) in [0, 1] on ``device``."""
    x = torch.from_numpy(np.ascontiguousarray(images)).to(device)
    return x.movedim(-1, -3).float().div_(255.0)


@torch.inference_mode()
def _frame_probs(net: ResNet18TSM, crops: np.ndarray, device: str, chunk: int = 64) -> np.ndarray:
    outs = [net(_to_tensor(crops[i : i + chunk], device)).float().cpu() for i in range(0, len(crops), chunk)]
    if not outs:
        return np.zeros((0, net.backbone.fc.out_features), np.float32)
    return torch.softmax(torch.cat(outs), dim=1).numpy().astype(np.float32)


def tsm_from_checkpoint(checkpoint: str | Path, name: str = "resnet18-tsm", device: str = "cpu",
                        input_size: int | None = None, buffer_length: int | None = None,
                        **kwargs: Any) -> TSMEmotionModel:
    """Build the analyze model from a checkpoint; ``input_size``/``buffer_length`` override its config."""
    net, cfg = load_tsm_checkpoint(checkpoint)
    size = int(input_size or cfg.get("input", {}).get("size", DEFAULT_INPUT_SIZE))
    length = int(buffer_length or cfg.get("arch_kwargs", {}).get("buffer_length", DEFAULT_BUFFER))
    info = {"checkpoint": str(checkpoint), "arch": "resnet18-tsm", "val_acc": cfg.get("val_acc"),
            "trained_input_size": cfg.get("input", {}).get("size")}
    return TSMEmotionModel(net, tuple(cfg.get("classes", EMOTIONS)), size, length, device, name=name, info=info,
                           **{k: v for k, v in kwargs.items() if k in ("max_gap_s", "max_clips")})


@register_model("resnet18-tsm", "ResNet-18 + temporal shift over a 4-frame buffer per face track (VTT Friends); "
                "7 classes, 224x224 RGB square crops (--input-size 112 for speed).", needs_checkpoint=True)
def resnet18_tsm(pretrained: bool = True, checkpoint: Any = None, device: str = "cpu", input_size: int | None = None,
                 buffer_length: int | None = None, **kwargs: Any) -> TSMEmotionModel:
    if checkpoint is not None:
        return tsm_from_checkpoint(checkpoint, "resnet18-tsm", device, input_size, buffer_length, **kwargs)
    length = int(buffer_length or DEFAULT_BUFFER)
    net = ResNet18TSM(len(EMOTIONS), length)
    return TSMEmotionModel(net, EMOTIONS, int(input_size or DEFAULT_INPUT_SIZE), length, device,
                           info={"checkpoint": None, "note": "randomly initialised"},
                           **{k: v for k, v in kwargs.items() if k in ("max_gap_s", "max_clips")})


@register_arch_loader("resnet18-tsm")
def _tsm_user(checkpoint: Any, device: str = "cpu", **kwargs: Any) -> TSMEmotionModel:
    return tsm_from_checkpoint(checkpoint, Path(checkpoint).stem, device, **kwargs)


@register_model("resnet18-tsm-frame", "resnet18-tsm in frame mode (each crop alone, no temporal shift): "
                "for still-image evaluation and as a frame baseline.", needs_checkpoint=True)
def resnet18_tsm_frame(pretrained: bool = True, checkpoint: Any = None, device: str = "cpu",
                       input_size: int | None = None, **_: Any) -> TSMFrameModel:
    if checkpoint is not None:
        net, cfg = load_tsm_checkpoint(checkpoint)
        size = int(input_size or cfg.get("input", {}).get("size", DEFAULT_INPUT_SIZE))
        info = {"checkpoint": str(checkpoint), "arch": "resnet18-tsm", "val_acc": cfg.get("val_acc")}
        return TSMFrameModel(net, tuple(cfg.get("classes", EMOTIONS)), size, device, info=info)
    return TSMFrameModel(ResNet18TSM(len(EMOTIONS)), EMOTIONS, int(input_size or DEFAULT_INPUT_SIZE), device,
                         info={"checkpoint": None, "note": "randomly initialised"})
