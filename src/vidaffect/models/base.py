"""The interface between the pipeline and every emotion model.

The pipeline hands a model a :class:`FaceBatch` (aligned crops cut to the
model's :class:`CropSpec`, plus which result row, face track, frame and time
each crop belongs to) and receives :class:`ModelOutput` objects that fill
probabilities and/or valence/arousal into those rows.

* Frame models (:class:`FrameEmotionModel`) answer every batch at once.
* Temporal models (TSM, MIMAMO) keep per-track state and may answer later:
  ``process`` can return outputs for rows of earlier batches, and ``finish``
  flushes what is left at the end of a video.  ``reset`` starts a new video.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class CropSpec:
    """How a model wants its face crops cut.

    kind:
      ``"fer"``: tight framing like FER2013 (brows to chin, ears cut), from the
      landmark similarity alignment; ``"aligned"``: the canonical 5-point
      template with some context (MIMAMO-style 112 crops); ``"square"``: the
      detector box made square and enlarged by ``margin`` (TSM/VTT style).
    color: ``"gray"`` (H, W) or ``"rgb"`` (H, W, 3), uint8.
    mask: keep only the convex hull of the landmarks (others set to 0).
    """

    size: int = 48
    color: str = "gray"
    kind: str = "fer"
    margin: float = 0.0
    mask: bool = False


@dataclass
class FaceBatch:
    """Crops of one or more faces, possibly from several frames, and where they belong."""

    crops: np.ndarray  # uint8 (N, H, W) or (N, H, W, 3)
    row_ids: np.ndarray  # int64 (N,): result rows to fill
    face_ids: np.ndarray  # int64 (N,): track ids
    frame_indices: np.ndarray  # int64 (N,)
    times: np.ndarray  # float64 (N,) seconds
    landmarks: np.ndarray | None = None  # float32 (N, K, 2) in crop pixels, when available

    def __len__(self) -> int:
        return int(len(self.row_ids))


@dataclass
class ModelOutput:
    """Model answers for some result rows (any field may be None)."""

    row_ids: np.ndarray
    probs: np.ndarray | None = None  # float32 (N, C) over the model's classes
    valence: np.ndarray | None = None  # float32 (N,)
    arousal: np.ndarray | None = None  # float32 (N,)
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # other per-row columns


class EmotionModel(ABC):
    """Base class of models usable by ``vidaffect analyze``."""

    name: str = "model"
    classes: tuple[str, ...] = ()  # empty for VA-only models
    crop: CropSpec = CropSpec()
    va_source: str | None = None  # e.g. "model:mimamo"; None -> VA derived from class probabilities
    temporal: bool = False
    info: dict

    def __init__(self) -> None:
        self.info = {}

    def reset(self) -> None:
        """Forget per-track state (called at the start of every video)."""

    @abstractmethod
    def process(self, batch: FaceBatch) -> list[ModelOutput]:
        """Consume a batch; return outputs for any rows now answered."""

    def finish(self) -> list[ModelOutput]:
        """Return outputs still pending at the end of a video."""
        return []

    def pending_from(self) -> int | None:
        """The lowest row id of the batches already processed that a later :meth:`process` or :meth:`finish`
        may still answer (``None``: every processed row is answered).  The analyser writes rows before it to
        disk; a model that answers late must say so here (the default: it answers every row at once)."""
        return None

    def describe(self) -> dict:
        """Metadata recorded in the results (name, classes, crop, VA source, checkpoint...)."""
        return {
            "name": self.name,
            "classes": list(self.classes),
            "crop": self.crop.__dict__,
            "va_source": self.va_source,
            "temporal": self.temporal,
            **self.info,
        }


class FrameEmotionModel(EmotionModel):
    """A stateless model that classifies every crop on its own."""

    @abstractmethod
    def predict(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Return probabilities ``(N, C)`` and optionally VA ``(N, 2)`` for uint8 crops."""

    def process(self, batch: FaceBatch) -> list[ModelOutput]:
        if len(batch) == 0:
            return []
        probs, va = self.predict(batch.crops)
        return [ModelOutput(
            batch.row_ids, probs.astype(np.float32),
            None if va is None else va[:, 0].astype(np.float32),
            None if va is None else va[:, 1].astype(np.float32),
        )]
