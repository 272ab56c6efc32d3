"""Checkpoints: model weights as safetensors + a JSON config; training state without pickle.

A model checkpoint is a pair ``NAME.safetensors`` / ``NAME.json``.  The JSON
holds everything needed to rebuild the model (architecture, its keyword
arguments, class names, input specification) and free-form metadata.

Training state (optimiser, epoch, step) is saved with ``torch.save`` but holds
only tensors and plain Python values, so it is read back with
``torch.load(..., weights_only=True)``: no arbitrary code runs on load.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from vidaffect.errors import ModelError
from vidaffect.utils.atomic import atomic_path


class CheckpointError(ModelError, ValueError):
    """A checkpoint is missing, unreadable or does not match the model."""


def save_model_checkpoint(path: str | Path, model: torch.nn.Module, config: dict[str, Any]) -> Path:
    """Write ``path`` (.safetensors) and its ``.json`` config atomically; return the weights path."""
    path = Path(path).with_suffix(".safetensors")
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "pt"})
    with atomic_path(path.with_suffix(".json")) as tmp:
        Path(tmp).write_text(json.dumps(config, indent=2, sort_keys=True))
    return path


def checkpoint_files(path: str | Path) -> tuple[Path, Path]:
    """The ``(weights, config)`` files of a checkpoint, both present.

    ``path`` is the ``.safetensors`` file, its ``.json`` config, or the pair's name without extension; any
    other file (``X.pth``, ``X.ckpt``...) is refused, never swapped for a ``X.safetensors`` beside it."""
    given = Path(path)
    suffix = given.suffix.lower()
    if not given.name or given.is_dir():
        raise CheckpointError(f"{str(path) or repr(str(path))}: not a checkpoint file (a NAME.safetensors with its NAME.json)")
    if suffix == ".safetensors":
        path = given
    elif suffix == ".json" or (not suffix and not given.is_file()):
        path = given.with_suffix(".safetensors")
    else:
        kind = "a PyTorch pickle" if suffix in (".pth", ".pt", ".tar", ".ckpt", ".bin") else f"a {given.suffix or 'extensionless'} file"
        raise CheckpointError(f"{given}: not a vidaffect checkpoint ({kind}); this model loads a NAME.safetensors "
                              f"file with its NAME.json config")
    cfg_path = path.with_suffix(".json")
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint weights not found")
    if not cfg_path.is_file():
        raise CheckpointError(f"{cfg_path}: checkpoint config not found (expected beside the weights)")
    return path, cfg_path


def _read_config(cfg_path: Path) -> dict[str, Any]:
    try:
        return json.loads(cfg_path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{cfg_path}: invalid JSON ({exc})") from None


def load_checkpoint_config(path: str | Path) -> dict[str, Any]:
    """The config of a checkpoint (see :func:`checkpoint_files`), without reading its weights."""
    return _read_config(checkpoint_files(path)[1])


def load_model_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read weights and config of a checkpoint written by :func:`save_model_checkpoint` (``path``: see
    :func:`checkpoint_files`)."""
    path, cfg_path = checkpoint_files(path)
    try:
        state = load_file(str(path))
    except Exception as exc:  # safetensors raises several types for corrupt files
        raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from None
    return state, _read_config(cfg_path)


def load_state_strict(model: torch.nn.Module, state: dict[str, torch.Tensor], source: str | Path) -> None:
    """``load_state_dict(strict=True)`` with an error that names the file and the mismatch."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [k for k in own if k in state and tuple(own[k].shape) != tuple(state[k].shape)]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys {missing[:5]}{'...' if len(missing) > 5 else ''}")
        if unexpected:
            parts.append(f"unexpected keys {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}")
        if shapes:
            k = shapes[0]
            parts.append(f"shape mismatch for {k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}")
        raise CheckpointError(f"{source}: checkpoint does not match the model ({'; '.join(parts)})")
    model.load_state_dict(state, strict=True)


def save_training_state(path: str | Path, state: dict[str, Any]) -> None:
    """Save optimiser/scheduler/progress state (tensors and plain values only) atomically."""
    with atomic_path(Path(path)) as tmp:
        torch.save(state, tmp)


def load_training_state(path: str | Path) -> dict[str, Any]:
    """Load state saved by :func:`save_training_state` without unpickling arbitrary objects."""
    try:
        return torch.load(os.fspath(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path}: unreadable training state ({exc})") from None
