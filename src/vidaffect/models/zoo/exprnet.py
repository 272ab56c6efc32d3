"""ExprNet models: the project's default frame model and user ExprNet checkpoints."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from vidaffect.errors import ModelError
from vidaffect.labels import EMOTIONS
from vidaffect.models.base import CropSpec, FrameEmotionModel
from vidaffect.models.checkpoint import load_model_checkpoint, load_state_strict
from vidaffect.models.exprnet import ExprNet
from vidaffect.models.fusion import optimize_for_inference
from vidaffect.models.registry import register_arch_loader, register_model

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
SHIPPED = WEIGHTS_DIR / "exprnet_s_fer2013.safetensors"
SHIPPED_M = WEIGHTS_DIR / "exprnet_m_fer2013.safetensors"


class TorchFrameModel(FrameEmotionModel):
    """Wrap a classifier ``nn.Module`` taking normalised crops into a frame model.

    ``value_range`` is the input scaling: ``(-1, 1)`` maps uint8 0..255 to
    [-1, 1]; ``(0, 1)`` to [0, 1].  ``tta_flip`` averages the logits of each
    crop and its mirror image.  ``precision``: ``fp32``, or ``bf16`` (autocast; on CPUs with AMX 3-4x
    faster, FER2013 validation accuracy unchanged: docs/expression-model.md), or ``auto`` (bf16 where the
    CPU has AMX, else fp32); see :meth:`set_precision`.  Inference runs ``fast_net``, a copy of ``net`` with Conv+BN folded in
    channels-last layout (same outputs up to float rounding); ``net`` keeps the original layers.
    ``temperature`` (temperature scaling, :meth:`set_temperature`): :meth:`predict` returns
    ``softmax(logits / temperature)``; :meth:`logits` stays uncalibrated.  At 1 (the default, and every checkpoint
    without a ``"calibration"`` entry) the logits are not divided at all.
    """

    def __init__(self, net: torch.nn.Module, name: str, classes: tuple[str, ...], crop: CropSpec,
                 value_range: tuple[float, float] = (-1.0, 1.0), device: str = "cpu", tta_flip: bool = False,
                 info: dict | None = None) -> None:
        super().__init__()
        self.net = net.to(device).eval()
        self.fast_net = optimize_for_inference(self.net, device)
        self.name, self.classes, self.crop = name, tuple(classes), crop
        self.device = device
        self.value_range = value_range
        self.tta_flip = tta_flip
        self.info = dict(info or {})
        self.info["tta_flip"] = tta_flip
        self.temperature = 1.0
        self.set_precision("fp32")

    def set_temperature(self, temperature: float) -> None:
        """Divide the logits by ``temperature`` (> 0) before the softmax of :meth:`predict`; 1 turns it off."""
        from vidaffect.evaluation.calibration import checked_temperature

        self.temperature = checked_temperature(temperature, self.name)
        if self.temperature == 1.0:
            self.info.pop("temperature", None)
        else:
            self.info["temperature"] = self.temperature

    def set_precision(self, precision: str) -> None:
        """Arithmetic of inference: ``fp32``, ``bf16`` or ``auto`` (bf16 on a CPU with AMX, else fp32)."""
        from vidaffect.faces.runtime.torch_runtime import auto_precision

        if precision not in ("auto", "fp32", "bf16"):
            raise ValueError(f"unknown precision {precision!r}; choose auto, fp32 or bf16")
        dev = torch.device(self.device)
        self.precision = auto_precision(dev) if precision == "auto" else precision
        self.info["precision"] = self.precision

    def to_input(self, crops: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(crops))
        x = x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
        lo, hi = self.value_range
        x = x.float() * ((hi - lo) / 255.0) + lo
        return x.to(self.device, memory_format=torch.channels_last)

    @torch.inference_mode()
    def logits(self, crops: np.ndarray) -> torch.Tensor:
        x = self.to_input(crops)
        n = len(x)
        if self.tta_flip:  # crops and mirror images in one forward pass
            x = torch.cat([x, torch.flip(x, dims=[3])]).contiguous(memory_format=torch.channels_last)
        if self.precision == "bf16":
            with torch.autocast(torch.device(self.device).type, dtype=torch.bfloat16):
                out = self.fast_net(x)
        else:
            out = self.fast_net(x)
        out = out[0] if isinstance(out, tuple) else out
        if self.tta_flip:
            out = (out[:n] + out[n:]) / 2
        return out.float().cpu()

    def probabilities(self, logits: torch.Tensor, temperature: float | None = None) -> np.ndarray:
        """``softmax(logits / T)`` with the model's temperature, or ``temperature`` when given."""
        t = self.temperature if temperature is None else temperature
        if t != 1.0:
            logits = logits / t
        return torch.softmax(logits, dim=1).numpy()

    def predict(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        return self.probabilities(self.logits(crops)), None


def exprnet_from_checkpoint(checkpoint: str | Path, name: str, device: str = "cpu", tta_flip: bool = False) -> TorchFrameModel:
    """Load an ExprNet ``.safetensors`` + ``.json`` checkpoint written by the training code."""
    state, cfg = load_model_checkpoint(checkpoint)
    if cfg.get("arch") != "exprnet":
        raise ModelError(f"{checkpoint}: checkpoint architecture is {cfg.get('arch')!r}, not 'exprnet'")
    kwargs = dict(cfg.get("arch_kwargs", {}))
    classes = tuple(cfg.get("classes", EMOTIONS))
    if kwargs.get("num_classes", len(classes)) != len(classes):
        raise ModelError(f"{checkpoint}: config has {len(classes)} class names but num_classes={kwargs['num_classes']}")
    net = ExprNet(**kwargs)
    load_state_strict(net, state, checkpoint)
    inp = cfg.get("input", {})
    crop = CropSpec(size=int(inp.get("size", 48)), color=inp.get("color", "gray"), kind=inp.get("crop", "fer"))
    info = {"checkpoint": str(checkpoint), "val_acc": cfg.get("val_acc"), "arch": "exprnet"}
    temperature = checkpoint_temperature(cfg, checkpoint)
    if temperature is not None:
        info["calibration"] = cfg["calibration"]
    model = TorchFrameModel(net, name, classes, crop, tuple(inp.get("range", (-1.0, 1.0))), device, tta_flip, info)
    if temperature is not None:
        model.set_temperature(temperature)
    return model


def checkpoint_temperature(cfg: dict, checkpoint: str | Path) -> float | None:
    """The temperature of a checkpoint config's ``"calibration"`` entry, None without one; bad entries raise
    :class:`ModelError`."""
    from vidaffect.evaluation.calibration import checked_temperature

    cal = cfg.get("calibration")
    if cal is None:
        return None
    if not isinstance(cal, dict) or "temperature" not in cal:
        raise ModelError(f"{checkpoint}: 'calibration' in the config must be an object with a 'temperature'")
    try:
        return checked_temperature(cal["temperature"], str(checkpoint))
    except ValueError as exc:
        raise ModelError(str(exc)) from None


def _shipped_exprnet(name: str, shipped: Path, width: int, pretrained: bool, checkpoint: Any, device: str,
                     tta_flip: bool) -> TorchFrameModel:
    if checkpoint is not None:
        return exprnet_from_checkpoint(checkpoint, name, device, tta_flip)
    if pretrained:
        if not shipped.exists():
            raise ModelError(f"{shipped}: shipped weights missing from the installation")
        return exprnet_from_checkpoint(shipped, name, device, tta_flip)
    net = ExprNet(len(EMOTIONS), width)
    return TorchFrameModel(net, name, EMOTIONS, CropSpec(48, "gray", "fer"), (-1.0, 1.0), device, tta_flip,
                           {"checkpoint": None, "note": "randomly initialised"})


@register_model("exprnet-s", "ExprNet-S (0.7M params), trained by vidaffect on FER2013; 7 classes, 48x48 gray. Default.")
def exprnet_s(pretrained: bool = True, checkpoint: Any = None, device: str = "cpu", tta_flip: bool = False,
              **_: Any) -> TorchFrameModel:
    return _shipped_exprnet("exprnet-s", SHIPPED, 32, pretrained, checkpoint, device, tta_flip)


@register_model("exprnet-m", "ExprNet-M (2.7M params, width 64), trained by vidaffect on FER2013; 7 classes, 48x48 "
                             "gray, temperature-calibrated. More accurate than exprnet-s, about 3x its cost per face.")
def exprnet_m(pretrained: bool = True, checkpoint: Any = None, device: str = "cpu", tta_flip: bool = False,
              **_: Any) -> TorchFrameModel:
    return _shipped_exprnet("exprnet-m", SHIPPED_M, 64, pretrained, checkpoint, device, tta_flip)


@register_arch_loader("exprnet")
def _exprnet_user(checkpoint: Any, device: str = "cpu", tta_flip: bool = False, **_: Any) -> TorchFrameModel:
    return exprnet_from_checkpoint(checkpoint, Path(checkpoint).stem, device, tta_flip)
