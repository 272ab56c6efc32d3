"""``--device``: ``auto`` picks a GPU only where torch sees one; a device torch cannot use is a one-line error."""
from __future__ import annotations

import pytest
import torch

from vidaffect.errors import VidaffectError
from vidaffect.utils.device import resolve_device


@pytest.mark.parametrize("gpu, expected", [(True, "cuda"), (False, "cpu")])
def test_auto_follows_what_torch_sees(monkeypatch, gpu, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu)
    assert resolve_device("auto") == expected


def test_named_devices_are_checked(monkeypatch):
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(VidaffectError, match="unknown device 'bogus'"):
        resolve_device("bogus")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(VidaffectError, match="device 'cuda'"):
        resolve_device("cuda")
