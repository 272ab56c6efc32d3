"""The main job: stream a video through detect -> track -> align -> model -> results, in one pass.

Three threads share the work: the decoder (a bounded prefetch queue), the
main thread (detection, flow, tracking, alignment) and one model worker that
runs the emotion model on the previous batch meanwhile.  Memory stays
constant however long the video: frames are decoded one at a time, at most
``MODEL_QUEUE`` + 1 batches of crops are held, and the per-frame results
table grows by one small row per face.  With the model on its own thread the
per-stage times in ``metadata["speed_ms_per_frame"]`` overlap and add up to
more than ``total``.
"""
from __future__ import annotations

import json
import logging
import math
import time
from collections import defaultdict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator

import cv2
import numpy as np
import pandas as pd

from vidaffect import __version__
from vidaffect.errors import VidaffectError
from vidaffect.faces import Detections, FaceDetector, align_faces
from vidaffect.faces.geometry import face_geometry
from vidaffect.models.base import CropSpec, EmotionModel, FaceBatch, ModelOutput
from vidaffect.models.registry import DEFAULT_MODEL, create_model
from vidaffect.results.results import BASE_COLUMNS, IN_MEMORY_ROWS, Results
from vidaffect.pipeline.finalize import FinishPlan, finalize_batches, finish_empty, finish_landmarks
from vidaffect.pipeline.spool import Spool, read_checkpoint, truncate_parts, write_checkpoint
from vidaffect.tracking import FaceTracker, Track
from vidaffect.utils.device import check_device
from vidaffect.video import FrameReader, VideoFrame, open_video
from vidaffect.video.prefetch import prefetch
from vidaffect.video.scene_cut import SceneCutDetector

log = logging.getLogger(__name__)

MODEL_QUEUE = 2  # model batches that may wait on the worker thread


@dataclass
class AnalyzeOptions:
    """Every setting of an analysis (the CLI flags of ``vidaffect analyze`` map onto these)."""

    model: str = DEFAULT_MODEL
    checkpoint: str | None = None
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"
    precision: str = "auto"  # frame models and torch face networks: bf16 on AMX CPUs, else fp32
    batch_size: int = 32
    detector: str = "multiscale"
    face_runtime: str = "auto"
    min_face: float = 32.0
    min_confidence: float | None = None  # None: the detector model's own (0.6 full range, 0.5 short)
    max_faces: int = 10
    multi_face: bool = True
    landmarks: bool = True
    mesh_every: int = 2
    detect_every: int = 6
    face_size: int = 112
    mask: bool = False
    fps: float | None = None
    image_fps: float | None = None  # frame rate of inputs without timestamps (image folders, frame arrays); None: 1
    start: float | None = None
    end: float | None = None
    smoothing_size: float = 0.0
    save_crops: str | None = None
    max_gap_s: float = 1.0
    scene_cuts: bool = True
    identity: bool = True  # face embeddings: re-identification inside a shot and person_id across the video
    identity_threshold: float | None = None  # person linking distance; None: the embedding's measured default
    threads: int = 1
    progress: bool = False
    strict: bool = False  # damaged video data fails the video instead of being skipped and recorded
    save_landmarks: bool = False  # keep every face row's 468 mesh points: Results.landmarks, <name>.landmarks.parquet
    spill_rows: int = 4096  # finished rows are written to disk in parts of this many (memory stays bounded)
    in_memory_rows: int = IN_MEMORY_ROWS  # results up to this many rows come back as a DataFrame; longer ones stay on disk
    checkpoint_every_s: float = 60.0  # restart points for resume: at a scene cut at least this long after the last

    def settings(self) -> dict[str, Any]:
        """Settings that change results (recorded in metadata; used for settings hashes)."""
        d = asdict(self)
        d.pop("progress")
        d.pop("threads")
        d.pop("spill_rows")  # where rows wait (memory or disk) does not change them
        d.pop("in_memory_rows")
        d.pop("checkpoint_every_s")
        if not d["strict"]:  # only a strict run differs (settings hashes of earlier runs stay valid)
            d.pop("strict")
        if d["image_fps"] is None:  # likewise: only set for inputs without timestamps
            d.pop("image_fps")
        if not d["save_landmarks"]:  # an extra output file, the same results
            d.pop("save_landmarks")
        return d

    def check(self) -> "AnalyzeOptions":
        """Raise :class:`VidaffectError` (one line) for values no analysis can use; return self."""
        for flag, v in (("--fps", self.fps), ("--image-fps", self.image_fps), ("--start", self.start),
                        ("--end", self.end), ("--max-gap", self.max_gap_s), ("--smoothing-size", self.smoothing_size),
                        ("--min-face", self.min_face), ("--threshold", self.min_confidence)):
            if v is not None and not math.isfinite(v):
                raise VidaffectError(f"{flag} must be a finite number, got {v}")
        if self.fps is not None and self.fps <= 0:
            raise VidaffectError(f"--fps must be positive, got {self.fps}")
        if self.image_fps is not None and self.image_fps <= 0:
            raise VidaffectError(f"--image-fps must be positive, got {self.image_fps}")
        if self.start is not None and self.start < 0:
            raise VidaffectError(f"--start must be >= 0 seconds, got {self.start}")
        if self.end is not None and self.end <= 0:
            raise VidaffectError(f"--end must be > 0 seconds (an empty time range), got {self.end}")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise VidaffectError(f"--end ({self.end}) must be after --start ({self.start})")
        if self.max_gap_s < 0:
            raise VidaffectError(f"--max-gap must be >= 0 seconds, got {self.max_gap_s}")
        if not math.isfinite(self.checkpoint_every_s) or self.checkpoint_every_s < 0:
            raise VidaffectError(f"--checkpoint-every must be a number of seconds >= 0, got {self.checkpoint_every_s}")
        return self


@dataclass
class FrameResult:
    """What the streaming API yields per analysed frame."""

    frame: VideoFrame
    detections: Detections
    rows: pd.DataFrame  # this frame's rows of the results table (model outputs filled when available)


def _largest(dets: Detections) -> Detections:
    return dets[[int(np.argmax(dets.area))]] if len(dets) > 1 else dets


def iter_tracked_faces(path: Any, fps: float | None = None, start: float | None = None,
                       end: float | None = None, detector: str | FaceDetector = "multiscale", min_confidence: float | None = None,
                       max_faces: int = 10, multi_face: bool = True, landmarks: bool = True, max_gap_s: float = 1.0,
                       scene_cuts: bool = True, timings: dict[str, float] | None = None,
                       tracker: FaceTracker | None = None, embedder: Any = None,
                       on_cut: Callable[[VideoFrame], None] | None = None,
                       ) -> Iterator[tuple[VideoFrame, Detections]]:
    """Decode ``path`` (any input of :func:`vidaffect.video.open_video`, or a reader it made) and yield
    ``(frame, detections)`` with stable ``face_ids`` for every analysed frame.

    tracker: the :class:`~vidaffect.tracking.FaceTracker` to use (its tracks and discarded ids stay readable
    afterwards); embedder: an object with ``embed_faces(image, detections) -> (N, D)`` (e.g.
    :class:`vidaffect.identity.descriptor.FaceDescriptor`) for re-identification and per-track embeddings.

    Stills (an image, a folder's images, an (H, W, 3) array: ``reader.stills``) are each searched on their own:
    every image after the first is a new shot (tracks end, the detector starts afresh), so no face is carried
    or tracked from one photo to the next; ``person_id`` links the same person across them.  A face seen once
    counts (a tracker passed in for stills needs ``confirm_hits=1``: :meth:`FaceTracker.configured`).

    ``on_cut(frame)``: called at each new shot, after the tracks of the last one ended and before ``frame``
    is searched (the analyser's restart points for ``--resume``).
    """
    reader = path if isinstance(path, FrameReader) else open_video(path, fps=fps, start=start, end=end)
    own_detector = not isinstance(detector, FaceDetector)
    det = FaceDetector(detector, min_confidence, max_faces, landmarks) if own_detector else detector
    det.reset()
    stills = reader.stills
    tracker = tracker if tracker is not None else FaceTracker.configured(embedder, stills, max_gap_s=max_gap_s)
    cuts = SceneCutDetector() if scene_cuts and not stills else None
    t = timings if timings is not None else defaultdict(float)
    frames = prefetch(reader)
    try:
        while True:
            t0 = time.perf_counter()
            frame = next(frames, None)  # only the wait for the decoder counts as decode_wait
            t1 = time.perf_counter()
            if frame is None:
                break
            t["decode_wait"] += t1 - t0
            # one grey conversion shared by the cut check and optical flow
            gray = cv2.cvtColor(frame.image, cv2.COLOR_RGB2GRAY) if cuts is not None or det.detect_every > 1 else None
            if stills or (cuts is not None and cuts.update(gray)):  # gray is set whenever cuts is
                tracker.cut()
                det.reset()
                if on_cut is not None:
                    on_cut(frame)
            dets = det.detect(frame.image, gray)
            if not multi_face:
                dets = _largest(dets)
            t2 = time.perf_counter()
            t["detect"] += t2 - t1
            embed = None
            if embedder is not None:
                image, these = frame.image, dets

                def embed(idx: np.ndarray) -> np.ndarray:
                    t3 = time.perf_counter()
                    out = embedder.embed_faces(image, these[idx])
                    t["embed"] += time.perf_counter() - t3
                    return out
            embed_before = t["embed"]
            tracker.update(dets, frame.time_s, embed)
            t["track"] += time.perf_counter() - t2 - (t["embed"] - embed_before)
            yield frame, dets
    finally:
        frames.close()
        if own_detector:  # a detector passed in belongs to the caller
            det.close()


class _Table:
    """Column store of the rows still open during the pass (waiting for model outputs), filled as frames and
    model outputs arrive; :meth:`spill` hands finished rows over to disk, so memory stays bounded.

    Row ids are global (0, 1, 2... over the whole pass); ``offset`` rows have been spilled already."""

    def __init__(self, classes: tuple[str, ...], keep_landmarks: bool = False) -> None:
        self.classes = classes
        self.cols: dict[str, list] = defaultdict(list, {c: [] for c in BASE_COLUMNS})  # columns even when empty
        self.landmarks: list[np.ndarray | None] | None = [] if keep_landmarks else None
        self.probs: list[np.ndarray | None] = []
        self.va: list[tuple[float, float] | None] = []
        self.extra: dict[str, dict[int, float]] = defaultdict(dict)
        self.offset = 0

    def __len__(self) -> int:
        """Rows so far, spilled ones included (the next row's id)."""
        return self.offset + len(self.probs)

    def add_frame(self, frame: VideoFrame, dets: Detections) -> np.ndarray:
        n = len(dets)
        first = len(self)
        geometry = face_row_geometry(frame.image.shape, dets)
        for i in range(max(n, 1)):
            self.cols["frame"].append(frame.index)
            self.cols["time_s"].append(round(frame.time_s, 6))
            self.cols["face_id"].append(int(dets.face_ids[i]) if n else -1)
            box = dets.xyxy[i] if n else (np.nan,) * 4
            for k, v in zip(("x1", "y1", "x2", "y2"), box):
                self.cols[k].append(float(v))
            # a carried face has no score of its own in this frame
            self.cols["score"].append(float(dets.scores[i]) if n and dets.detected[i] else np.nan)
            self.cols["faces_in_frame"].append(n)
            for k, values in geometry.items():
                self.cols[k].append(values[i] if n else (False if k in ("detected", "mesh_fit") else np.nan))
            if self.landmarks is not None:
                lm = dets.landmarks[i] if n and dets.landmarks is not None else None
                self.landmarks.append(None if not n else lm.astype(np.float32).reshape(-1) if lm is not None
                                      else np.full(936, np.nan, np.float32))
            self.probs.append(None)
            self.va.append(None)
        return np.arange(first, first + n, dtype=np.int64)

    def fill(self, out: ModelOutput) -> None:
        for j, r in enumerate(out.row_ids):
            r = int(r)
            if r < self.offset:
                raise RuntimeError(f"model output for row {r}, already written to disk (model.pending_from() "
                                   f"must name the rows it still fills)")
            if out.probs is not None:
                self.probs[r - self.offset] = out.probs[j]
            if out.valence is not None and out.arousal is not None:
                self.va[r - self.offset] = (float(out.valence[j]), float(out.arousal[j]))
            for name, values in out.extra.items():
                self.extra[name][r] = float(values[j])

    def frame(self, rows: range | np.ndarray | None = None) -> pd.DataFrame:
        """The rows with global ids ``rows`` (default: every row still held) as a DataFrame."""
        idx = np.arange(len(self.probs)) if rows is None else np.asarray(rows) - self.offset
        df = pd.DataFrame({k: _column(v, idx, k) for k, v in self.cols.items()})
        c = len(self.classes)
        probs = np.full((len(idx), c), np.nan, dtype=np.float32)
        va = np.full((len(idx), 2), np.nan, dtype=np.float32)
        for j, r in enumerate(idx):
            if c and self.probs[r] is not None:
                probs[j] = self.probs[r]
            if self.va[r] is not None:
                va[j] = self.va[r]
        for k, name in enumerate(self.classes):
            df[name] = probs[:, k]
        df["valence"], df["arousal"] = va[:, 0], va[:, 1]
        for name, values in self.extra.items():
            df[name] = [values.get(int(r) + self.offset, np.nan) for r in idx]
        return df

    def landmark_rows(self, upto: int) -> pd.DataFrame | None:
        """The face rows among the held rows before global id ``upto``, with their 936 mesh values."""
        if self.landmarks is None:
            return None
        k = upto - self.offset
        face = np.asarray(self.cols["face_id"][:k]) >= 0
        idx = np.flatnonzero(face)
        return pd.DataFrame({"frame": np.asarray(self.cols["frame"][:k], np.int64)[idx],
                             "time_s": np.asarray(self.cols["time_s"][:k], np.float64)[idx],
                             "face_id": np.asarray(self.cols["face_id"][:k], np.int64)[idx],
                             "landmarks": [self.landmarks[i] for i in idx]})

    def spill(self, upto: int) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """Take the rows before global id ``upto`` out of memory: ``(rows, landmark rows)``."""
        k = upto - self.offset
        if k <= 0:
            return self.frame(range(self.offset, self.offset)), None
        rows = self.frame(range(self.offset, upto))
        lms = self.landmark_rows(upto)
        for v in self.cols.values():
            del v[:k]
        del self.probs[:k], self.va[:k]
        if self.landmarks is not None:
            del self.landmarks[:k]
        for values in self.extra.values():
            for r in [r for r in values if r < upto]:
                del values[r]
        self.offset = upto
        return rows, lms


# Every column gets one dtype whatever rows a part holds (a part of faceless frames would otherwise make the
# geometry columns float64 and a part of faces float32): the Parquet parts then agree.
_BOOL_COLUMNS = {"detected", "mesh_fit"}
_INT_COLUMNS = {"frame", "face_id", "faces_in_frame"}


def _column(values: list, idx: np.ndarray, name: str) -> np.ndarray:
    dtype = (np.int64 if name in _INT_COLUMNS else np.bool_ if name in _BOOL_COLUMNS
             else np.float32 if name in _FLOAT32_COLUMNS else np.float64)
    if not len(values) or not len(idx):
        return np.zeros(0, dtype)
    lo, hi = int(idx.min()), int(idx.max()) + 1  # convert only the span asked for (one frame's rows in stream())
    return np.asarray(values[lo:hi], dtype=dtype)[idx - lo]


GEOMETRY_COLUMNS = ("detected", "mesh_fit", "face_px", "yaw", "pitch", "roll", "eye_open_left", "eye_open_right",
                    "mouth_open")
_FLOAT32_COLUMNS = set(GEOMETRY_COLUMNS) - _BOOL_COLUMNS


def face_row_geometry(image_shape: tuple[int, ...], dets: Detections) -> dict[str, np.ndarray]:
    """Quality and geometry columns of one frame's faces (see docs/pipeline.md, "Columns"): ``detected``,
    ``mesh_fit``, ``face_px`` (box width) and, from the mesh, head pose and eye/mouth openness."""
    n = len(dets)
    out: dict[str, np.ndarray] = {"detected": dets.detected.copy(), "mesh_fit": dets.has_mesh(),
                                  "face_px": (dets.xyxy[:, 2] - dets.xyxy[:, 0]).astype(np.float32)}
    nan = np.full(n, np.nan, dtype=np.float32)
    geo = face_geometry(dets.landmarks, (image_shape[1], image_shape[0])) if n and dets.landmarks is not None else {}
    for k in GEOMETRY_COLUMNS[3:]:
        out[k] = geo.get(k, nan)
    return out


def _versions() -> dict[str, str]:
    import av
    import cv2
    import torch

    try:
        from importlib.metadata import version

        litert = version("ai-edge-litert")
    except Exception:  # not installed: the face stage then runs on torch
        litert = None
    return {"vidaffect": __version__, "torch": torch.__version__, "ai-edge-litert": litert,
            "av": av.__version__, "opencv": cv2.__version__, "numpy": np.__version__, "pandas": pd.__version__}


class Analyzer:
    """Reusable analyser: load the detector and model once, analyse many videos.

    >>> an = Analyzer(model="exprnet-s", smoothing_size=0.5)
    >>> res = an.analyze("video.mp4"); res.frames.head()
    """

    def __init__(self, options: AnalyzeOptions | None = None, *, model_instance: EmotionModel | None = None,
                 **kwargs: Any) -> None:
        opts = options or AnalyzeOptions()
        for k, v in kwargs.items():
            if not hasattr(opts, k):
                raise VidaffectError(f"unknown analyze option {k!r}")
            setattr(opts, k, v)
        if opts.precision not in ("auto", "fp32", "bf16"):
            raise VidaffectError(f"unknown precision {opts.precision!r}; choose auto, fp32 or bf16")
        if opts.batch_size < 1:
            raise VidaffectError(f"batch size must be >= 1, got {opts.batch_size}")
        if opts.spill_rows < 1 or opts.in_memory_rows < 0:
            raise VidaffectError(f"spill_rows must be >= 1 and in_memory_rows >= 0, got {opts.spill_rows} and "
                                 f"{opts.in_memory_rows}")
        if opts.face_size < 16:
            raise VidaffectError(f"face size must be >= 16 pixels, got {opts.face_size}")
        opts.check()
        if opts.smoothing_size < 0:
            raise VidaffectError(f"smoothing size must be >= 0 seconds, got {opts.smoothing_size}")
        if opts.identity_threshold is not None and not 0 < opts.identity_threshold < 2:
            raise VidaffectError(f"identity threshold is a cosine distance in (0, 2), got {opts.identity_threshold}")
        if model_instance is None:
            check_device(opts.device)
        from vidaffect.faces.runtime import resolve

        resolve(opts.face_runtime, opts.device)  # a bad --face-runtime / --device pair fails before loading
        self.options = opts
        if opts.threads > 0:
            # torch's intra-op threads; the face stage and the decoder thread use the other cores.  On a 2-core
            # CPU, 1 thread is fastest: with 2, the model's threads wait on each other (measured 2 vs 22 ms/frame).
            import torch

            torch.set_num_threads(opts.threads)
        self.model = model_instance or create_model(opts.model, checkpoint=opts.checkpoint, device=opts.device,
                                                    **opts.model_kwargs)
        if model_instance is None and hasattr(self.model, "set_precision"):
            self.model.set_precision(opts.precision)
        spec = self.model.crop
        if spec.kind == "aligned":  # models on the pipeline's aligned crops follow --face-size
            spec = CropSpec(opts.face_size, spec.color, spec.kind, spec.margin, spec.mask)
        self.model_crop = CropSpec(spec.size, spec.color, spec.kind, spec.margin, spec.mask or opts.mask)
        self.save_crop = CropSpec(opts.face_size, "rgb", "aligned", 0.0, opts.mask)
        self.detector = FaceDetector(opts.detector, opts.min_confidence, opts.max_faces, opts.landmarks,
                                     mesh_every=opts.mesh_every, detect_every=opts.detect_every,
                                     runtime=opts.face_runtime, device=opts.device, min_face=opts.min_face,
                                     precision=opts.precision)
        self.embedder = None
        if opts.identity:
            from vidaffect.identity.descriptor import FaceDescriptor

            self.embedder = FaceDescriptor(device=opts.device, precision=opts.precision)

    def close(self) -> None:
        self.detector.close()

    def __enter__(self) -> "Analyzer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def analyze(self, source: Any, name: str | None = None, spool_dir: str | Path | None = None,
                resume: bool = False) -> Results:
        """Analyse one input and return its :class:`Results`.

        ``source``: a video file, an image file, a folder of images, a NumPy array ((H, W, 3) or
        (N, H, W, 3) uint8 RGB), a webcam index (``0`` or ``"webcam:0"``, with ``end``) or a stream URL
        (``rtsp://``, ``http(s)://``...), see :func:`vidaffect.video.open_video`.  ``name``: of its result
        set (``Results.save``) and ``--save-crops`` folder, default the file or folder name without
        extension, ``array``, ``webcamN`` or the URL's host and path.

        Rows go to disk during the pass (Parquet parts in ``spool_dir``, default a temporary folder), so memory
        does not grow with the video's length; results of more than ``in_memory_rows`` rows stay there
        (``Results.frames`` then reads them on first use, ``Results.iter_batches`` in bounded batches).

        Restart points: at a scene cut at least ``checkpoint_every_s`` of video after the last one, the state
        is saved in ``spool_dir`` (``checkpoint.json``); ``resume=True`` continues a video file from the last
        one the same input and settings left there, with the same final results as an uninterrupted run.  A
        video without scene cuts has no restart point: it is analysed again from the start."""
        for _ in self._run(source, yield_frames=False, name=name, spool_dir=spool_dir, resume=resume):
            pass
        return self._last_results

    def stream(self, path: Any) -> Iterator[FrameResult]:
        """Yield a :class:`FrameResult` per analysed frame as soon as its model batch is done.

        Frame models fill every row before it is yielded; temporal models that
        answer late fill those rows only in the final results
        (``analyzer.last_results`` after the generator is exhausted).
        """
        yield from self._run(path, yield_frames=True)

    @property
    def last_results(self) -> Results:
        return self._last_results

    @property
    def last_merged(self) -> dict[int, int]:
        """Ids the streaming API yielded for tracks that the final results merged into earlier ones
        (late re-identification): ``{streamed id: final id}``."""
        return self._last_merged

    @property
    def last_tracks(self) -> list[Track]:
        """The confirmed face tracks of the last video (boxes' motion filters, embeddings, time spans)."""
        return self._last_tracks

    def _run(self, source: Any, yield_frames: bool, name: str | None = None,
             spool_dir: str | Path | None = None, resume: bool = False) -> Iterator[FrameResult]:
        opts, model = self.options, self.model
        timings: dict[str, float] = defaultdict(float)
        reader = open_video(source, fps=opts.fps, start=opts.start, end=opts.end, strict=opts.strict,
                            image_fps=opts.image_fps)
        reader_info = reader.info
        label = str(reader.path)  # what messages name: the path, webcam:N, array or the URL without secrets
        name = name or reader_info.name or Path(reader_info.path).stem
        model.reset()
        classes = tuple(model.classes)
        table = _Table(classes, opts.save_landmarks)
        identity = self._identity(reader)
        restart = None
        if resume and spool_dir is not None and reader.can_skip and not yield_frames:
            restart = read_checkpoint(spool_dir, identity)
            if restart is not None:
                truncate_parts(spool_dir, restart["row_parts"], restart["landmark_parts"])
            else:
                log.warning("%s: no restart point for this input and these settings in %s; analysing from the "
                            "start", label, spool_dir)
        spool = Spool(spool_dir, fresh=restart is None)
        pending: list[tuple[np.ndarray, np.ndarray, Detections, VideoFrame]] = []
        pending_faces = 0
        held: list[tuple[VideoFrame, Detections, np.ndarray]] = []
        crops_dir = Path(opts.save_crops) / name if opts.save_crops else None
        n_frames = 0
        bar = self._progress_bar(reader_info, name)
        t_start = time.perf_counter()

        # The model runs on one worker thread (torch releases the GIL) while the main thread detects and
        # aligns the next frames; a single worker keeps batches in order for temporal models, and at most
        # MODEL_QUEUE batches wait so memory stays bounded.  The streaming API runs the model inline so every
        # frame it yields is complete.
        worker = ThreadPoolExecutor(1, thread_name_prefix="vidaffect-model") if not yield_frames else None
        in_flight: deque[tuple[Future, int]] = deque()  # a batch on the worker and its first row id

        waiting: list[int | None] = [None]  # model.pending_from() after the last batch whose outputs were taken

        def run_model(batch: FaceBatch) -> tuple[list[ModelOutput], int | None]:
            t0 = time.perf_counter()
            outs = model.process(batch)
            timings["model"] += time.perf_counter() - t0
            return outs, model.pending_from()  # asked on the model's own thread, between its batches

        def take(result: tuple[list[ModelOutput], int | None]) -> None:
            for out in result[0]:
                table.fill(out)
            waiting[0] = result[1]

        def collect(keep: int) -> None:
            t0 = time.perf_counter()
            while len(in_flight) > keep:
                take(in_flight.popleft()[0].result())
            timings["model_wait"] += time.perf_counter() - t0  # the main thread waiting for the worker

        def flush() -> list[FrameResult]:
            nonlocal pending, pending_faces
            if pending:
                batch = FaceBatch(
                    crops=np.concatenate([p[0] for p in pending]),
                    row_ids=np.concatenate([p[1] for p in pending]),
                    face_ids=np.concatenate([p[2].face_ids for p in pending]),
                    frame_indices=np.concatenate([np.full(len(p[1]), p[3].index) for p in pending]),
                    times=np.concatenate([np.full(len(p[1]), p[3].time_s) for p in pending]),
                )
                if worker is None:
                    take(run_model(batch))
                else:
                    in_flight.append((worker.submit(run_model, batch), int(batch.row_ids.min())))
                    collect(MODEL_QUEUE)
            pending, pending_faces = [], 0
            ready = [FrameResult(f, d, table.frame(r)) for f, d, r in held] if yield_frames else []
            held.clear()
            return ready

        def spill(final: bool = False) -> None:
            """Write the finished rows to disk: those before the oldest row a model may still fill."""
            upto = len(table)
            if pending:
                upto = min(upto, int(pending[0][1].min()))
            if in_flight:
                upto = min(upto, in_flight[0][1])
            if held:
                upto = min(upto, int(held[0][2].min()))
            if waiting[0] is not None:
                upto = min(upto, waiting[0])
            if final or upto - table.offset >= opts.spill_rows:
                t0 = time.perf_counter()
                spool.write(*table.spill(upto))
                timings["write"] += time.perf_counter() - t0

        # a still (a photo) is one frame to find a face on: its detections need no second frame to confirm them
        tracker = FaceTracker.configured(self.embedder, reader.stills, max_gap_s=opts.max_gap_s)
        last_point = [float(opts.start or 0.0)]  # video time of the last restart point
        if restart is not None:
            tracker.restore(restart["tracker"])
            table.offset = int(restart["rows"])
            n_frames = int(restart["frames"])
            reader.skip_until = int(restart["next_frame"])
            last_point[0] = float(restart["time_s"])
            timings.update(restart["timings"])
            if bar is not None:
                bar.update(n_frames)
            log.info("%s: resuming at %.2f s (frame %d)", label, restart["time_s"], restart["next_frame"])

        def restart_point(frame: VideoFrame) -> None:
            """A new shot: every track has ended.  At most every ``checkpoint_every_s`` of video time, send the
            rows so far to disk and, when no model still holds rows, save the state to resume from here.  The
            points depend on the video only, and are taken also where no checkpoint can be written (the API's
            temporary spool, streams), so a resumed run, a CLI run and an API run batch the frames alike."""
            if yield_frames or frame.time_s - last_point[0] < opts.checkpoint_every_s:
                return
            last_point[0] = frame.time_s
            flush()
            collect(0)
            if waiting[0] is not None:
                return
            spill(final=True)
            if not spool.temporary and reader.can_skip:  # only a video file can be decoded to the same frame again
                write_checkpoint(spool.folder, {
                    "identity": identity, "next_frame": frame.index, "time_s": frame.time_s, "rows": len(table),
                    "row_parts": spool.rows.count, "landmark_parts": spool.landmarks.count, "frames": n_frames,
                    "tracker": tracker.state(), "timings": dict(timings)})

        stream = iter_tracked_faces(
            reader, opts.fps, opts.start, opts.end, self.detector, opts.min_confidence, opts.max_faces,
            opts.multi_face, opts.landmarks, opts.max_gap_s, opts.scene_cuts, timings, tracker, self.embedder,
            on_cut=restart_point)
        try:
            try:
                for frame, dets in stream:
                    n_frames += 1
                    rows = table.add_frame(frame, dets)
                    t0 = time.perf_counter()
                    if len(dets):
                        crops = align_faces(frame.image, dets, self.model_crop)
                        pending.append((crops, rows, dets, frame))
                        pending_faces += len(dets)
                        if crops_dir is not None:
                            self._save_crops(crops_dir, frame, dets)
                    timings["align"] += time.perf_counter() - t0
                    if yield_frames:
                        held.append((frame, dets, rows if len(dets) else np.array([len(table) - 1])))
                    if pending_faces >= opts.batch_size or (yield_frames and not pending):
                        yield from flush()
                    spill()
                    if bar is not None:
                        bar.update(1)
                        elapsed = time.perf_counter() - t_start
                        if n_frames % 10 == 0 and elapsed > 0:
                            bar.set_postfix(fps=f"{n_frames / elapsed:.1f}", refresh=False)
                yield from flush()
                collect(0)
                t0 = time.perf_counter()
                take((model.finish(), None))
                timings["model"] += time.perf_counter() - t0
                spill(final=True)
            finally:
                if worker is not None:
                    worker.shutdown(wait=True, cancel_futures=True)
                if bar is not None:
                    bar.close()
            total = time.perf_counter() - t_start
            if name != reader_info.name:  # the name the caller gave is the result set's
                reader_info = replace(reader_info, name=name)
            decode = _decode_warnings(label, reader, n_frames)
            if resume and restart is None:
                decode["warnings"].append("--resume: no restart point for this input and these settings, analysed "
                                          "from the start")
            elif restart is not None:
                decode["resumed_at_s"] = round(float(restart["time_s"]), 3)
            self._last_results = self._finish(reader_info, spool, table, n_frames, total, timings, tracker, decode)
        except BaseException:
            if spool.temporary or not spool.has_checkpoint():  # kept only where a resume can start from
                spool.remove()
            raise

    def _finish(self, info, spool: Spool, table: _Table, n_frames: int, total: float,
                timings: dict[str, float], tracker: FaceTracker, decode: dict[str, Any]) -> Results:
        """The final tables from the spooled rows, in bounded batches (see :mod:`vidaffect.pipeline.finalize`)."""
        from vidaffect.results.store import TableWriter, read_batches

        opts, model = self.options, self.model
        classes = table.classes
        t0 = time.perf_counter()
        tracks = tracker.finish()
        self._last_tracks = tracks
        self._last_merged = dict(tracker.merged)
        persons, identity = None, None
        if self.embedder is not None:
            t1 = time.perf_counter()
            persons, identity = self._link_persons(tracks, tracker)
            timings["link"] = time.perf_counter() - t1
        plan = FinishPlan(classes, model.va_source, opts.smoothing_size, dict(tracker.merged),
                          set(tracker.discarded), persons)
        face_rows, face_ids = 0, set()
        with TableWriter(spool.folder / "frames.parquet") as writer:
            for batch in finalize_batches(read_batches(spool.row_parts(), batch_rows=opts.spill_rows), plan):
                writer.write(batch)
                faces = batch["face_id"].to_numpy()
                face_rows += int((faces >= 0).sum())
                face_ids.update(int(f) for f in np.unique(faces[faces >= 0]))
            frames_path = writer.close(empty_like=finish_empty(table.frame(range(0, 0)), plan))
        landmarks_path = None
        if opts.save_landmarks:
            landmarks_path = finish_landmarks(spool, plan)
        spool.drop_parts()
        timings["assemble"] = time.perf_counter() - t0
        per_frame = {k: round(1000 * v / max(n_frames, 1), 3) for k, v in timings.items()}
        per_frame["total"] = round(1000 * total / max(n_frames, 1), 3)
        meta = {
            "video": info.to_dict(),
            "frames_analysed": n_frames,
            "faces_found": face_rows,
            "face_ids": sorted(face_ids),
            "classes": list(classes),
            "model": model.describe(),
            "va_source": plan.final_va_source,
            "settings": self.options.settings(),
            "face_stage": {"detector": self.detector.model, "runtime": self.detector.runtime,
                           "threshold": round(float(self.detector.min_confidence), 4)},
            "tracking": {"tracks": len(tracks), "discarded_tentative_tracks": len(tracker.discarded),
                         "late_reidentified_tracks": len(tracker.merged), "appearance_splits": tracker.splits,
                         "embeddings": tracker.embeddings_computed},
            "identity": identity,
            "versions": _versions(),
            "speed_ms_per_frame": per_frame,
            "fps": round(n_frames / total, 2) if total > 0 else None,
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **decode,
        }
        in_memory = writer.rows <= opts.in_memory_rows
        res = Results.from_table(frames_path, list(classes), meta, landmarks=landmarks_path, in_memory=in_memory,
                                 owner=spool.folder if spool.temporary else None)
        if in_memory and spool.temporary:
            spool.remove()
        return res

    def _identity(self, reader: FrameReader) -> dict[str, Any]:
        """What a restart point must match: the input file (path, size, modification time), the settings that
        change results, the model and vidaffect's version."""
        ident: dict[str, Any] = {"input": str(reader.path), "settings": self.options.settings(),
                                 "model": self.model.describe().get("name"), "vidaffect": __version__}
        try:
            st = Path(str(reader.path)).stat()
            ident.update(size=st.st_size, mtime_ns=st.st_mtime_ns)
        except OSError:
            pass
        return json.loads(json.dumps(ident, default=str))

    def _link_persons(self, tracks: list[Track], tracker: FaceTracker) -> tuple[dict[int, int], dict[str, Any]]:
        """Tracks linked into persons: ``({face_id: person_id}, the metadata entry)``."""
        from vidaffect.identity.linking import link_tracks

        threshold = self.options.identity_threshold
        if threshold is None:
            threshold = self.embedder.link_threshold
        persons = link_tracks(tracks, threshold)
        return persons, {"model": self.embedder.name, "distance": "cosine", "linkage": "average",
                         "threshold": threshold, "reid_distance": tracker.reid_distance,
                         "persons": len(set(persons.values())), "tracks": len(tracks),
                         "tracks_without_embedding": sum(t.embedding is None for t in tracks)}

    def _save_crops(self, crops_dir: Path, frame: VideoFrame, dets: Detections) -> None:
        import cv2

        crops = align_faces(frame.image, dets, self.save_crop)
        for fid, crop in zip(dets.face_ids, crops):
            d = crops_dir / f"face{int(fid):03d}"
            d.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(d / f"frame{frame.index:06d}.jpg"), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))

    def _progress_bar(self, info, name: str):
        if not self.options.progress:
            return None
        from tqdm import tqdm

        duration = info.duration_s
        if self.options.end is not None:
            duration = min(duration, self.options.end)
        if self.options.start is not None:
            duration -= self.options.start
        rate = self.options.fps or info.fps
        total = int(round(max(duration, 0) * rate)) or None
        return tqdm(total=total, desc=name[:30], unit="frame", dynamic_ncols=True, leave=False)


def _decode_warnings(path: str, reader: FrameReader, n_frames: int) -> dict[str, Any]:
    """Metadata entries ``damaged_spans`` (skipped damaged data) and ``warnings`` (one line each, also logged)."""
    spans = list(reader.damaged)
    warnings = [f"unreadable image {s['file']} at {s['start_s']:.2f} s skipped ({s['error']})" if "file" in s
                else f"damaged video data from {s['start_s']:.2f} to {s['end_s']:.2f} s skipped "
                f"({s['packets']} packet(s): {s['error']})" for s in spans]
    if n_frames == 0:
        rng = f"{reader.start or 0:g} s to {'the end' if reader.end is None else f'{reader.end:g} s'}"
        info = reader.info
        lasts = ("; an image is one frame at 0 s" if info.kind in ("image", "array") and info.frame_count == 1
                 else f"; the {'video' if info.kind == 'video' else 'input'} lasts {info.duration_s:.2f} s"
                 if info.duration_s > 0 else "")
        warnings.append(f"no frame in the requested time range ({rng}){lasts}")
    for w in warnings:
        log.warning("%s: %s", path, w)
    return {"damaged_spans": spans, "warnings": warnings}


def analyze(source: Any, name: str | None = None, **options: Any) -> Results:
    """Analyse one input with the given options (see :class:`AnalyzeOptions`) and return :class:`Results`.

    ``source``: a video file, an image file, a folder of images (frames at ``image_fps``, default 1), a
    NumPy array ((H, W, 3) or (N, H, W, 3) uint8 RGB; frames at ``image_fps``), a webcam index (``0`` or
    ``"webcam:0"``; needs ``end``) or a stream URL (``rtsp://``, ``rtmp://``, ``http(s)://``); anything
    else raises a one-line :class:`~vidaffect.errors.VideoError`.  ``name``: the result set's name
    (see :meth:`Analyzer.analyze`).

    >>> res = analyze("clip.mp4"); res = analyze("photo.jpg"); res = analyze(frames, image_fps=25)
    """
    check_source(source)  # a one-line error before any model is loaded
    with Analyzer(**options) as analyzer:
        return analyzer.analyze(source, name=name)


def check_source(source: Any) -> str:
    """The kind of ``source`` (see :func:`vidaffect.video.sources.source_kind`); a one-line
    :class:`~vidaffect.errors.VideoError` for what no backend takes, checked without opening it (arrays:
    their dtype and shape too)."""
    from vidaffect.video.sources import source_kind

    kind = source_kind(source)
    if kind == "array":
        from vidaffect.video.array_backend import check_array

        check_array(source)
    return kind
