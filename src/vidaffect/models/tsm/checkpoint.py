"""Save and load ResNet-18-TSM checkpoints (``NAME.safetensors`` + ``NAME.json``)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from vidaffect.labels import EMOTIONS
from vidaffect.models.checkpoint import CheckpointError, load_model_checkpoint, load_state_strict, save_model_checkpoint
from vidaffect.models.tsm.net import ResNet18TSM

ARCH = "resnet18-tsm"
CROP_MARGIN = 0.5  # the reference's square crop: box side + 0.5 * (w + h)
DEFAULT_INPUT_SIZE = 224
DEFAULT_BUFFER = 4


def tsm_config(net: ResNet18TSM, classes: tuple[str, ...], input_size: int,
               extra: dict | None = None) -> dict[str, Any]:
    """The JSON config stored beside the weights: enough to rebuild the network and its input."""
    cfg: dict[str, Any] = {
        "arch": ARCH,
        "arch_kwargs": {"num_classes": len(classes), "buffer_length": net.buffer_length, "fold_div": net.fold_div,
                        "width": net.width},
        "classes": list(classes),
        "input": {"size": int(input_size), "color": "rgb", "range": [0.0, 1.0], "crop": "square",
                  "margin": CROP_MARGIN},
    }
    if extra:
        cfg.update(extra)
    return cfg


def save_tsm_checkpoint(path: str | Path, net: ResNet18TSM, classes: tuple[str, ...] = EMOTIONS,
                        input_size: int = DEFAULT_INPUT_SIZE, extra: dict | None = None) -> Path:
    """Write ``path`` (.safetensors) and its ``.json``; returns the weights path."""
    return save_model_checkpoint(path, net, tsm_config(net, classes, input_size, extra))


def load_tsm_checkpoint(path: str | Path) -> tuple[ResNet18TSM, dict[str, Any]]:
    """Rebuild the network of a checkpoint; raises ``CheckpointError`` naming the file on any mismatch."""
    state, cfg = load_model_checkpoint(path)
    if cfg.get("arch") != ARCH:
        raise CheckpointError(f"{path}: checkpoint architecture is {cfg.get('arch')!r}, not {ARCH!r}")
    kwargs = dict(cfg.get("arch_kwargs", {}))
    classes = cfg.get("classes", list(EMOTIONS))
    if int(kwargs.get("num_classes", len(classes))) != len(classes):
        raise CheckpointError(f"{path}: config has {len(classes)} class names but num_classes={kwargs['num_classes']}")
    kwargs["num_classes"] = len(classes)
    try:
        net = ResNet18TSM(**kwargs)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: bad arch_kwargs {kwargs} ({exc})") from None
    load_state_strict(net, state, path)
    return net.eval(), cfg
