"""Fixtures of the MELD tests: one torch thread, a tiny MELD-format data set made from the shared videos."""
from __future__ import annotations

import pytest
import torch

from meld_synth import VIDEOS, write_dataset


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_meld(tmp_path_factory):
    """(csv, clips dir): 6 utterances in 3 dialogues, 5 clips of 2 s (dia1_utt1 missing), a cp1252 byte in one."""
    if not (VIDEOS / "single_face.mp4").is_file():
        pytest.skip(f"shared videos absent ({VIDEOS})")
    return write_dataset(tmp_path_factory.mktemp("meld"))
