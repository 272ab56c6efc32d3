"""The model runs on a worker thread during analyze(): same results, batches in order, errors surface."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from vidaffect.models.base import FaceBatch, FrameEmotionModel, ModelOutput
from vidaffect.pipeline import Analyzer


class RecordingModel(FrameEmotionModel):
    """Probabilities from the crop's brightness; records which thread ran each batch and its frames."""

    name = "recording"
    classes = ("happy", "sad")

    def __init__(self, fail_at_batch: int | None = None) -> None:
        super().__init__()
        self.fail_at_batch = fail_at_batch
        self.calls: list[tuple[str, np.ndarray]] = []

    def predict(self, crops: np.ndarray) -> tuple[np.ndarray, None]:
        m = crops.reshape(len(crops), -1).mean(axis=1) / 255.0
        return np.stack([m, 1.0 - m], axis=1).astype(np.float32), None

    def process(self, batch: FaceBatch) -> list[ModelOutput]:
        if self.fail_at_batch is not None and len(self.calls) == self.fail_at_batch:
            raise RuntimeError("model exploded")
        self.calls.append((threading.current_thread().name, batch.frame_indices.copy()))
        return super().process(batch)


def test_analyze_runs_model_on_worker_thread_with_same_results_as_inline_stream(demo_video):
    model = RecordingModel()
    an = Analyzer(model_instance=model, end=5.0, batch_size=8)
    try:
        streamed = list(an.stream(demo_video))  # the streaming API runs the model inline
        inline_threads = {name for name, _ in model.calls}
        model.calls.clear()
        res = an.analyze(demo_video)
    finally:
        an.close()
    assert inline_threads == {threading.current_thread().name}
    assert {name for name, _ in model.calls} == {"vidaffect-model_0"}
    assert len(model.calls) > 3  # several batches were in flight while detection went on
    frames = np.concatenate([f for _, f in model.calls])
    assert np.all(np.diff(frames) >= 0), "batches reach the model in frame order (temporal models rely on it)"
    faces = res.frames[res.frames["face_id"] >= 0]
    assert len(faces) == len(frames) and not faces[["happy", "sad"]].isna().any().any()
    rows = np.concatenate([s.rows[["happy", "sad"]].to_numpy() for s in streamed])
    np.testing.assert_allclose(rows, res.frames[["happy", "sad"]].to_numpy(), atol=1e-6)


def test_model_error_on_worker_thread_reaches_the_caller(demo_video):
    an = Analyzer(model_instance=RecordingModel(fail_at_batch=2), end=4.0, batch_size=4)
    try:
        with pytest.raises(RuntimeError, match="model exploded"):
            an.analyze(demo_video)
        assert not any(t.name.startswith("vidaffect-model") for t in threading.enumerate())
    finally:
        an.close()


class SlowModel(RecordingModel):
    def process(self, batch: FaceBatch) -> list[ModelOutput]:
        time.sleep(0.04)
        return super().process(batch)


def test_speed_charges_waiting_for_the_model_to_model_wait_not_decode_wait(demo_video):
    an = Analyzer(model_instance=SlowModel(), end=2.0, batch_size=1)
    try:
        speed = an.analyze(demo_video).speed
    finally:
        an.close()
    assert speed["model_wait"] > 20, speed  # every frame has a face and the model needs 40 ms a frame
    assert speed["decode_wait"] < 10, speed  # the decoder is far ahead of a 40 ms/frame consumer
    assert speed["total"] >= 40, speed
