"""Fixtures of the temporal-model tests."""
from __future__ import annotations

from pathlib import Path

import pytest

from tsm_synthetic import write_sequence_folder


@pytest.fixture(scope="session")
def pattern_sequences(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("seq")
    return (write_sequence_folder(base / "train", 8, 6, seed=1), write_sequence_folder(base / "val", 4, 6, seed=2))
