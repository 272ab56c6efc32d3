"""Model registry: listing, creation, user checkpoints, clear errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from vidaffect.errors import ModelError
from vidaffect.labels import EMOTIONS
from vidaffect.models import DEFAULT_MODEL, create_model, list_models
from vidaffect.models.checkpoint import save_model_checkpoint
from vidaffect.models.exprnet import ExprNet


def test_default_model_is_registered_and_listed():
    assert DEFAULT_MODEL == "exprnet-s"
    assert "exprnet-s" in list_models() and list_models("exprnet*") == [n for n in list_models() if n.startswith("exprnet")]


def test_unknown_model_error_lists_names():
    with pytest.raises(ModelError, match="unknown model 'nope'.*exprnet-s"):
        create_model("nope")


def test_user_checkpoint_roundtrip_and_registry(tmp_path, monkeypatch):
    torch.manual_seed(0)
    net = ExprNet(7, width=8)
    cfg = {"arch": "exprnet", "arch_kwargs": {"num_classes": 7, "width": 8}, "classes": list(EMOTIONS),
           "input": {"size": 48, "color": "gray", "range": [-1, 1], "crop": "fer"}}
    monkeypatch.setenv("VIDAFFECT_HOME", str(tmp_path))
    path = save_model_checkpoint(tmp_path / "models" / "tiny", net, cfg)
    assert "tiny" in list_models()
    crops = np.random.default_rng(0).integers(0, 255, (3, 48, 48), dtype=np.uint8)
    for m in (create_model("tiny"), create_model("exprnet-s", checkpoint=path)):
        probs, va = m.predict(crops)
        net.eval()
        with torch.no_grad():
            ref = torch.softmax(net(torch.from_numpy(crops).float().unsqueeze(1) / 127.5 - 1), 1).numpy()
        np.testing.assert_allclose(probs, ref, atol=1e-5)
        assert va is None and probs.shape == (3, 7)


def test_mismatched_checkpoint_names_file(tmp_path):
    net = ExprNet(5, width=8)
    cfg = {"arch": "exprnet", "arch_kwargs": {"num_classes": 7, "width": 8}, "classes": list(EMOTIONS)}
    path = save_model_checkpoint(tmp_path / "bad", net, cfg)
    with pytest.raises(ModelError, match=r"bad\.safetensors.*shape mismatch"):
        create_model("exprnet-s", checkpoint=path)
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    (tmp_path / "junk.json").write_text("{}")
    with pytest.raises(ModelError, match="junk.safetensors"):
        create_model("exprnet-s", checkpoint=tmp_path / "junk.safetensors")
