"""Fixtures of the micro-expression tests: tiny synthetic data sets."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def micro_cache(tmp_path_factory):
    """A preprocessed CASME II-layout set: 4 subjects x 4 directions x 2 clips at 48 px."""
    from micro_synth import write_dataset

    from vidaffect.micro.layouts import load_samples
    from vidaffect.micro.preprocess import PreprocessConfig, preprocess_samples

    root = tmp_path_factory.mktemp("casme2_train")
    csv = write_dataset(root / "data", "casme2", subjects=4, per_class=2, size=64, seed=1)
    samples = load_samples(csv, root / "data", "casme2")
    preprocess_samples(samples, root / "cache", "casme2", PreprocessConfig(size=48), workers=2, progress=False)
    return root / "cache"
