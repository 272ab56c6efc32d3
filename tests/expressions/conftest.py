"""Fixtures of the expression tests: a temporary VIDAFFECT_HOME."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """User models and data set caches go to a temporary VIDAFFECT_HOME."""
    monkeypatch.setenv("VIDAFFECT_HOME", str(tmp_path / "home"))
