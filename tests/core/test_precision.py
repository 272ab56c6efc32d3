"""--precision: bf16 inference of frame models (AMX CPUs) agrees with fp32 and is recorded in the results."""
from __future__ import annotations

import numpy as np
import pytest

from vidaffect.errors import VidaffectError


def _crops(n: int = 48) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(0)
    # smooth random "faces": low-frequency noise resized up, like real 48x48 grey crops
    return np.stack([cv2.resize(rng.integers(0, 255, (6, 6), dtype=np.uint8), (48, 48),
                                interpolation=cv2.INTER_CUBIC) for _ in range(n)])


def test_bf16_frame_model_agrees_with_fp32():
    from vidaffect.models.registry import create_model

    m = create_model("exprnet-s")
    crops = _crops()
    m.set_precision("fp32")
    p32, _ = m.predict(crops)
    m.set_precision("bf16")
    p16, _ = m.predict(crops)
    assert m.describe()["precision"] == "bf16"
    assert np.abs(p32 - p16).max() < 0.05
    assert (p32.argmax(1) == p16.argmax(1)).mean() >= 0.9
    np.testing.assert_allclose(p16.sum(1), 1.0, atol=1e-5)


def test_auto_precision_follows_the_cpu(monkeypatch):
    from vidaffect.faces.runtime import torch_runtime
    from vidaffect.models.registry import create_model

    m = create_model("exprnet-s")
    monkeypatch.setattr(torch_runtime, "cpu_has_amx_bf16", lambda: True)
    m.set_precision("auto")
    assert m.precision == "bf16"
    monkeypatch.setattr(torch_runtime, "cpu_has_amx_bf16", lambda: False)
    m.set_precision("auto")
    assert m.precision == "fp32"
    with pytest.raises(ValueError, match="unknown precision"):
        m.set_precision("int8")


def test_analyzer_records_precision_and_rejects_unknown(demo_video):
    from vidaffect.pipeline import Analyzer

    with pytest.raises(VidaffectError, match="unknown precision"):
        Analyzer(precision="fp8")
    with Analyzer(precision="fp32", end=1.0) as an:
        res = an.analyze(demo_video)
    assert res.metadata["model"]["precision"] == "fp32"
    assert res.metadata["settings"]["precision"] == "fp32"
