"""Fixtures of the MELD tests: a tiny MELD-format data set made from the shared videos."""
from __future__ import annotations

import pytest

from meld_synth import VIDEOS, write_dataset


@pytest.fixture(scope="session")
def tiny_meld(tmp_path_factory):
    """(csv, clips dir): 6 utterances in 3 dialogues, 5 clips of 2 s (dia1_utt1 missing), a cp1252 byte in one."""
    if not (VIDEOS / "single_face.mp4").is_file():
        pytest.skip(f"shared videos absent ({VIDEOS})")
    return write_dataset(tmp_path_factory.mktemp("meld"))
