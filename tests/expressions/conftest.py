"""Fixtures of the expression tests: one torch thread, a temporary VIDAFFECT_HOME."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """User models and data set caches go to a temporary VIDAFFECT_HOME."""
    monkeypatch.setenv("VIDAFFECT_HOME", str(tmp_path / "home"))
