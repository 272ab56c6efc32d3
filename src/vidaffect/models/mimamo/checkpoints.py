"""Reading and writing MIMAMO checkpoints in the original formats, without unpickling code.

* Network: ``model_weights.pth.tar`` = ``{'state_dict': ..., 'epoch': int}``, keys possibly
  prefixed ``module.`` (saved from ``nn.DataParallel``).  Checkpoints written here add a
  ``vidaffect`` dict (plain values) recording how the GRU recurs.
* ResNet-50 FER+: ``resnet50_ferplus_dag.pth`` = a bare state dict.

Both are read with ``torch.load(weights_only=True)`` and loaded with strict key checking;
the only tolerance is a missing ``num_batches_tracked`` buffer (state dicts saved by
PyTorch < 0.4.1 have none), which is filled with zero.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from vidaffect.errors import ModelError
from vidaffect.models.checkpoint import load_state_strict
from vidaffect.utils.atomic import atomic_path


def read_torch_file(path: str | os.PathLike) -> Any:
    """``torch.load(path, weights_only=True)`` with one-line errors naming the file."""
    p = Path(path)
    if not p.is_file():
        raise ModelError(f"{p}: checkpoint not found")
    try:
        return torch.load(os.fspath(p), map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle / zip errors of several types
        raise ModelError(f"{p}: not a readable PyTorch checkpoint ({str(exc).splitlines()[0][:200]})") from None


def strip_module_prefix(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove the ``module.`` prefix that ``nn.DataParallel`` adds, when every key has it."""
    if state and all(k.startswith("module.") for k in state):
        return {k[len("module."):]: v for k, v in state.items()}
    return state


def load_strict(model: torch.nn.Module, state: dict[str, torch.Tensor], source: str | os.PathLike) -> None:
    """Strict load; only missing ``num_batches_tracked`` buffers are tolerated (set to 0)."""
    state = dict(state)
    for k, v in model.state_dict().items():
        if k.endswith("num_batches_tracked") and k not in state:
            state[k] = torch.zeros_like(v)
    load_state_strict(model, state, source)


def read_mimamo_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """State dict and metadata (``epoch``, ``vidaffect`` info) of a ``model_weights.pth.tar``."""
    obj = read_torch_file(path)
    if not isinstance(obj, dict):
        raise ModelError(f"{path}: expected a dict with 'state_dict', got {type(obj).__name__}")
    state = obj.get("state_dict", obj)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelError(f"{path}: 'state_dict' is not a dict of tensors")
    meta = {"epoch": obj.get("epoch"), **(obj.get("vidaffect") or {})}
    return strip_module_prefix(state), meta


def read_resnet_checkpoint(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """State dict of ``resnet50_ferplus_dag.pth`` (a bare state dict, or wrapped in 'state_dict')."""
    obj = read_torch_file(path)
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise ModelError(f"{path}: expected a state dict, got {type(obj).__name__}")
    return strip_module_prefix(obj)


def save_mimamo_checkpoint(path: str | os.PathLike, model: torch.nn.Module, epoch: int,
                           extra: dict[str, Any] | None = None) -> Path:
    """Write ``{'state_dict', 'epoch', 'vidaffect'}`` atomically (loadable with ``weights_only=True``)."""
    obj = {"state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "epoch": int(epoch),
           "vidaffect": {"gru_axis": "batch" if getattr(model, "legacy_gru_axis", False) else "time",
                         **(extra or {})}}
    with atomic_path(Path(path)) as tmp:
        torch.save(obj, tmp)
    return Path(path)
