"""The shipped face models: provenance, licence and the converted weights' agreement with the .tflite files."""
from __future__ import annotations

import hashlib
import json

import pytest

from vidaffect.faces.runtime.base import ASSETS, NETWORKS


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_each_model_ships_as_tflite_and_safetensors_with_its_source_hash(name):
    from safetensors import safe_open

    manifest = json.loads((ASSETS / "manifest.json").read_text())
    tflite = ASSETS / f"{name}.tflite"
    digest = hashlib.sha256(tflite.read_bytes()).hexdigest()
    assert digest == manifest["models"][name]["source_sha256"], "the .tflite is a byte copy of the wheel's file"
    with safe_open(str(ASSETS / f"{name}.safetensors"), framework="np") as f:
        meta = f.metadata()
        n_weights = sum(f.get_tensor(k).size for k in f.keys())
    assert meta["source_sha256"] == digest
    assert meta["license"] == "Apache-2.0" and meta["source"].startswith("mediapipe==0.10.21")
    assert n_weights == manifest["models"][name]["parameters"]
    graph = json.loads(meta["graph"])
    assert {op["op"] for op in graph["ops"]} <= {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "RELU", "PRELU", "PAD",
                                                 "MAX_POOL_2D", "RESHAPE", "CONCATENATION", "RESIZE_BILINEAR",
                                                 "DEPTH_TO_SPACE"}


def test_notice_names_source_licence_and_every_hash():
    notice = (ASSETS / "NOTICE").read_text()
    manifest = json.loads((ASSETS / "manifest.json").read_text())
    assert "Apache License, Version 2.0" in notice and "mediapipe 0.10.21" in notice
    for entry in manifest["models"].values():
        assert entry["source_sha256"] in notice
    assert "Apache License" in (ASSETS / "LICENSE").read_text()


def test_assets_are_package_data():
    """pip-installed copies carry the models (pyproject's package-data covers the folder)."""
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")
    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    assert "faces/assets/*" in pyproject["tool"]["setuptools"]["package-data"]["vidaffect"]
