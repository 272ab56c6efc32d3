"""Cached DSSN maps -> network inputs for the image modes F, G, S (and pairs of them).

Each stream's input has three channels ``[u, v, map]`` where the map is the flow
magnitude (``F``), the grayscale apex (``G``) or the optical strain (``S``).
SSSN takes one mode, DSSN two (one per stream).  At load time maps are divided
by 255, resized to ``input_size`` (227) and normalised with ImageNet mean/std.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import pandas as pd
import torch

from vidaffect.errors import VidaffectError
from vidaffect.micro.layouts import read_annotations
from vidaffect.micro.preprocess import FEATURE_KEYS, MANIFEST

IMAGE_MODES = {"F": "mag", "G": "gray", "S": "strain"}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def parse_image_modes(modes: Sequence[str] | str) -> tuple[str, ...]:
    """``["F", "G"]``, ``"FG"``, ``"F+G"`` -> ``("F", "G")``; one or two of F, G, S."""
    text = "".join(modes) if not isinstance(modes, str) else modes
    letters = tuple(c.upper() for c in text if c not in "+, ")
    bad = [c for c in letters if c not in IMAGE_MODES]
    if bad or not 1 <= len(letters) <= 2:
        raise VidaffectError(f"image mode {text!r}: give one or two of F (flow magnitude), G (grayscale apex), S (strain)")
    return letters


def stack_features(feats: dict[str, np.ndarray], input_size: int) -> np.ndarray:
    """Maps dict -> uint8 (5, S, S) in :data:`FEATURE_KEYS` order, resized to ``input_size``."""
    out = np.empty((len(FEATURE_KEYS), input_size, input_size), np.uint8)
    for i, k in enumerate(FEATURE_KEYS):
        m = feats[k]
        out[i] = m if m.shape == (input_size, input_size) else cv2.resize(m, (input_size, input_size), interpolation=cv2.INTER_AREA)
    return out


def stream_tensors(stacked: np.ndarray, modes: Sequence[str]) -> list[torch.Tensor]:
    """uint8 (B, 5, S, S) maps -> one normalised float (B, 3, S, S) tensor per mode."""
    x = torch.from_numpy(np.ascontiguousarray(stacked)).float().div_(255.0)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    u, v = FEATURE_KEYS.index("u"), FEATURE_KEYS.index("v")
    streams = []
    for mode in modes:
        m = FEATURE_KEYS.index(IMAGE_MODES[mode])
        streams.append((x[:, [u, v, m]] - mean) / std)
    return streams


class MicroFeatureSet:
    """All samples of a preprocessing cache in memory (uint8), with labels and subjects.

    ``labels_csv`` (optional) relabels samples / selects a subset by subject+clip;
    ``classes`` restricts to those emotions (others dropped) and fixes their order,
    default: sorted unique emotions.
    """

    def __init__(
        self,
        cache_dir: str | Path,
        input_size: int = 227,
        labels_csv: str | Path | None = None,
        classes: Sequence[str] | None = None,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        manifest_path = self.cache_dir / MANIFEST
        if not manifest_path.is_file():
            raise VidaffectError(f"{manifest_path}: no manifest (run `vidaffect micro preprocess` first)")
        table = pd.read_csv(manifest_path, dtype={"subject": str, "clip": str, "emotion": str, "key": str})
        if labels_csv is not None:
            table = self._relabel(table, labels_csv)
        if classes:
            unknown = sorted(set(classes) - set(table["emotion"]))
            if unknown:
                raise VidaffectError(f"{manifest_path}: classes {unknown} not found in the data")
            table = table[table["emotion"].isin(classes)]
        if table.empty:
            raise VidaffectError(f"{manifest_path}: no samples")
        self.classes: tuple[str, ...] = tuple(classes) if classes else tuple(sorted(table["emotion"].unique()))
        self.table = table.reset_index(drop=True)
        self.input_size = input_size
        self.labels = np.array([self.classes.index(e) for e in self.table["emotion"]], np.int64)
        self.subjects = self.table["subject"].to_numpy(str)
        self.features = np.stack([self._load(f) for f in self.table["file"]])

    @classmethod
    def from_arrays(
        cls, features: np.ndarray, labels: np.ndarray, subjects: Sequence[str], classes: Sequence[str], clips: Sequence[str] | None = None
    ) -> "MicroFeatureSet":
        """A set built in memory: ``features`` uint8 (N, 5, S, S) in :data:`FEATURE_KEYS` order (benchmarks, tests)."""
        self = cls.__new__(cls)
        n = len(labels)
        self.cache_dir = Path("<memory>")
        self.classes = tuple(classes)
        self.input_size = int(features.shape[-1])
        self.features = np.ascontiguousarray(features, np.uint8)
        self.labels = np.asarray(labels, np.int64)
        self.subjects = np.asarray(subjects).astype(str)
        clips = list(clips) if clips is not None else [f"clip{i}" for i in range(n)]
        self.table = pd.DataFrame({"subject": self.subjects, "clip": clips, "emotion": [self.classes[i] for i in self.labels]})
        return self

    def _relabel(self, table: pd.DataFrame, labels_csv: str | Path) -> pd.DataFrame:
        ann = read_annotations(labels_csv)
        ann_keys = {}
        for subject, clip, emotion in zip(ann["subject"], ann["clip"], ann["emotion"]):
            ann_keys[(subject, clip)] = emotion
        keep, emotions = [], []
        for subject, clip in zip(table["subject"], table["clip"]):
            digits = "".join(c for c in subject if c.isdigit())
            emo = next((ann_keys[(s, clip)] for s in (subject, digits, digits.lstrip("0")) if (s, clip) in ann_keys), None)
            keep.append(emo is not None)
            emotions.append(emo)
        table = table.assign(emotion=emotions)[keep]
        if table.empty:
            raise VidaffectError(f"{labels_csv}: none of its samples are in the cache {self.cache_dir}")
        return table

    def _load(self, rel: str) -> np.ndarray:
        path = self.cache_dir / rel
        try:
            with np.load(path) as z:
                return stack_features({k: z[k] for k in FEATURE_KEYS}, self.input_size)
        except (OSError, KeyError, ValueError) as exc:
            raise VidaffectError(f"{path}: unreadable feature file ({exc})") from None

    def __len__(self) -> int:
        return len(self.labels)

    def inputs(self, indices: np.ndarray, modes: Sequence[str]) -> list[torch.Tensor]:
        """Normalised stream tensors of the samples ``indices``."""
        return stream_tensors(self.features[indices], modes)
