"""Model registry in the style of timm: ``create_model(name, pretrained=...)``, ``list_models()``.

Models register a factory with :func:`register_model`.  Built-in factories live
in the modules of :mod:`vidaffect.models.zoo`, which are imported on first use
(each file there registers its own models, so adding a model never touches this
file).  Models imported by the user (for example with ``vidaffect models
import-keras``) live as checkpoint pairs ``NAME.safetensors`` + ``NAME.json`` in
:func:`user_models_dir` and are listed and created like built-in ones.

A factory is called as ``factory(pretrained=..., checkpoint=..., device=..., **kwargs)``
and returns an :class:`~vidaffect.models.base.EmotionModel`.
"""
from __future__ import annotations

import fnmatch
import importlib
import json
import os
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from vidaffect.errors import ModelError
from vidaffect.models.base import EmotionModel

DEFAULT_MODEL = "exprnet-s"

Factory = Callable[..., EmotionModel]


@dataclass(frozen=True)
class ModelEntry:
    name: str
    factory: Factory
    description: str
    needs_checkpoint: bool  # no shipped weights: pretrained use needs --checkpoint


_REGISTRY: dict[str, ModelEntry] = {}
_ZOO_LOADED = False

# Builders for user checkpoints: arch name (the "arch" key of NAME.json) -> factory(checkpoint=..., device=...).
_ARCH_LOADERS: dict[str, Factory] = {}


def register_model(name: str, description: str = "", needs_checkpoint: bool = False) -> Callable[[Factory], Factory]:
    """Decorator registering ``factory`` under ``name``."""

    def deco(factory: Factory) -> Factory:
        _REGISTRY[name] = ModelEntry(name, factory, description, needs_checkpoint)
        return factory

    return deco


def register_arch_loader(arch: str) -> Callable[[Factory], Factory]:
    """Decorator: ``factory(checkpoint=PATH, device=...)`` builds a model from a user checkpoint of ``arch``."""

    def deco(factory: Factory) -> Factory:
        _ARCH_LOADERS[arch] = factory
        return factory

    return deco


def user_models_dir() -> Path:
    """Folder of user-registered checkpoints: ``$VIDAFFECT_HOME/models`` (default ``~/.local/share/vidaffect/models``)."""
    home = os.environ.get("VIDAFFECT_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share", "vidaffect")
    return Path(home) / "models"


def _load_zoo() -> None:
    global _ZOO_LOADED
    if _ZOO_LOADED:
        return
    _ZOO_LOADED = True
    from vidaffect.models import zoo

    for mod in sorted(pkgutil.iter_modules(zoo.__path__), key=lambda m: m.name):
        importlib.import_module(f"{zoo.__name__}.{mod.name}")


def _user_models() -> dict[str, Path]:
    d = user_models_dir()
    if not d.is_dir():
        return {}
    return {p.stem: p for p in sorted(d.glob("*.json")) if p.with_suffix(".safetensors").exists()}


def list_models(pattern: str = "*") -> list[str]:
    """Names of registered models (built-in and user), sorted, filtered by a glob ``pattern``."""
    _load_zoo()
    names = set(_REGISTRY) | set(_user_models())
    return sorted(n for n in names if fnmatch.fnmatch(n, pattern))


def model_entries() -> list[dict[str, Any]]:
    """Name, description and whether a checkpoint is needed, for every model (for ``vidaffect models list``)."""
    _load_zoo()
    rows = [
        {"name": e.name, "description": e.description, "needs_checkpoint": e.needs_checkpoint, "source": "built-in"}
        for e in _REGISTRY.values()
    ]
    for name, path in _user_models().items():
        if name not in _REGISTRY:
            rows.append({"name": name, "description": f"user model ({path})", "needs_checkpoint": False, "source": "user"})
    return sorted(rows, key=lambda r: r["name"])


def create_model(
    name: str = DEFAULT_MODEL,
    pretrained: bool = True,
    checkpoint: str | os.PathLike | None = None,
    device: str = "cpu",
    **kwargs: Any,
) -> EmotionModel:
    """Build a registered model.

    ``checkpoint`` loads user weights into the named model instead of the
    shipped ones.  ``name`` may also be a path to a ``.safetensors`` checkpoint
    whose ``.json`` names a registered architecture.
    """
    _load_zoo()
    if name in _REGISTRY:
        entry = _REGISTRY[name]
        if entry.needs_checkpoint and pretrained and checkpoint is None:
            raise ModelError(f"model {name!r} has no shipped weights: pass a checkpoint (--checkpoint PATH)")
        return entry.factory(pretrained=pretrained, checkpoint=checkpoint, device=device, **kwargs)
    user = _user_models()
    path = user.get(name)
    if path is None and str(name).endswith((".safetensors", ".json")) and Path(name).exists():
        path = Path(name).with_suffix(".json")
    if path is not None:
        try:
            arch = json.loads(Path(path).read_text()).get("arch")
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelError(f"{path}: unreadable model config ({exc})") from None
        if arch not in _ARCH_LOADERS:
            raise ModelError(f"{path}: unknown architecture {arch!r}; known: {sorted(_ARCH_LOADERS)}")
        return _ARCH_LOADERS[arch](checkpoint=Path(path).with_suffix(".safetensors"), device=device, **kwargs)
    raise ModelError(f"unknown model {name!r}; available: {', '.join(list_models()) or 'none'}")
