"""MIMAMO tests run single-threaded: the CI machine has 2 cores shared with other work."""
import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
