"""A gallery of named people: enrolled face descriptors in a JSON file, matched by cosine distance.

File layout (JSON)::

    {"format": "vidaffect-gallery", "version": 1, "model": "dlib_face_recognition_resnet_model_v1",
     "people": {"Alice": {"embeddings": [[128 floats], ...], "sources": ["alice.mp4", ...]}}}

A face matches the person whose mean (renormalised) descriptor is nearest, if
that distance is within the threshold; otherwise it is ``"unknown"``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vidaffect.errors import VidaffectError
from vidaffect.identity.cluster import DEFAULT_THRESHOLD, cosine_distance

MODEL_NAME = "dlib_face_recognition_resnet_model_v1"  # vidaffect's descriptor gives dlib's vectors
from vidaffect.utils.atomic import atomic_write_text

UNKNOWN = "unknown"
FORMAT = "vidaffect-gallery"


@dataclass
class Gallery:
    """Named people and their enrolled descriptors."""

    people: dict[str, list[np.ndarray]] = field(default_factory=dict)
    sources: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> "Gallery":
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise VidaffectError(f"{path}: gallery file not found") from None
        except (OSError, ValueError) as exc:
            raise VidaffectError(f"{path}: not a readable gallery JSON file ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise VidaffectError(f"{path}: not a vidaffect gallery (expected \"format\": \"{FORMAT}\")")
        if data.get("model") != MODEL_NAME:
            raise VidaffectError(f"{path}: gallery made with model {data.get('model')!r}, expected {MODEL_NAME}")
        g = cls()
        for name, entry in data.get("people", {}).items():
            embs = [np.asarray(e, dtype=np.float32) for e in entry.get("embeddings", [])]
            if any(e.shape != (128,) for e in embs):
                raise VidaffectError(f"{path}: person {name!r} has descriptors that are not 128 numbers")
            g.people[name] = embs
            g.sources[name] = list(entry.get("sources", []))
        return g

    def save(self, path: str | Path) -> Path:
        data = {"format": FORMAT, "version": 1, "model": MODEL_NAME, "people": {
            name: {"embeddings": [[round(float(v), 6) for v in e] for e in embs], "sources": self.sources.get(name, [])}
            for name, embs in sorted(self.people.items())}}
        return atomic_write_text(path, json.dumps(data, indent=1))

    def enroll(self, name: str, embeddings: list[np.ndarray] | np.ndarray, source: str = "") -> None:
        """Add descriptors of ``name`` (kept with the ones enrolled before)."""
        if not name.strip():
            raise VidaffectError("person name must not be empty")
        self.people.setdefault(name, []).extend(np.asarray(e, dtype=np.float32) for e in embeddings)
        if source:
            self.sources.setdefault(name, []).append(source)

    @property
    def names(self) -> list[str]:
        return sorted(self.people)

    def centroids(self) -> np.ndarray:
        """(P, 128) unit-length mean descriptor per person, in :attr:`names` order."""
        c = np.stack([np.mean(self.people[n], axis=0) for n in self.names]) if self.people else np.zeros((0, 128))
        return c / np.clip(np.linalg.norm(c, axis=1, keepdims=True), 1e-12, None)

    def distances(self, embeddings: np.ndarray) -> np.ndarray:
        """(N, P) cosine distances of ``embeddings`` to every person."""
        return cosine_distance(embeddings, self.centroids()) if self.people else np.zeros((len(embeddings), 0))

    def match(self, embeddings: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> list[tuple[str, float]]:
        """Per row: (nearest name, distance) if within ``threshold``, else (``"unknown"``, distance)."""
        emb = np.atleast_2d(embeddings)
        d = self.distances(emb)
        out = []
        for row in d:
            if not len(row):
                out.append((UNKNOWN, float("nan")))
                continue
            j = int(np.argmin(row))
            out.append((self.names[j] if row[j] <= threshold else UNKNOWN, float(row[j])))
        return out
