"""Check a user's ``--device`` before anything is loaded onto it (one-line errors, not CUDA tracebacks)."""
from __future__ import annotations

from vidaffect.errors import VidaffectError


def check_device(device: str) -> str:
    """Return ``device`` if torch can use it; raise :class:`VidaffectError` saying why not."""
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise VidaffectError(f"unknown device {device!r}; use cpu or cuda[:N]") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            why = "torch was built without CUDA" if torch.version.cuda is None else "no CUDA GPU is visible"
            raise VidaffectError(f"device {device!r}: {why} (torch {torch.__version__}); use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise VidaffectError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) visible")
    elif dev.type != "cpu":
        raise VidaffectError(f"device {device!r} is not supported; use cpu or cuda[:N]")
    return device


def resolve_device(device: str) -> str:
    """``auto``: ``cuda`` where torch sees a GPU, else ``cpu``; any other name is checked (:func:`check_device`)."""
    if device == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return check_device(device)
