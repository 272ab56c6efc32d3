"""DSSN preprocessing: onset/apex frames -> TV-L1 flow, magnitude, optical strain, grayscale apex.

Each map is min-max scaled to 0..255 per sample (u and v separately, magnitude,
strain) as in Khor et al. 2019; the grayscale apex is kept as it is (already 0..255).
Maps are stored as uint8 in one compressed ``features/{key}.npz`` per sample with
keys ``u, v, mag, strain, gray``; ``manifest.csv`` lists the samples and
``preprocess.json`` the settings.  Re-running skips samples whose file exists;
running with other settings into the same folder is refused.
"""
from __future__ import annotations

import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from vidaffect.errors import VidaffectError
from vidaffect.micro.layouts import MicroSample
from vidaffect.motion.flow import flow_magnitude, to_gray, tvl1_flow
from vidaffect.motion.strain import optical_strain
from vidaffect.utils.atomic import atomic_path, atomic_write_text

FEATURE_KEYS = ("u", "v", "mag", "strain", "gray")
MANIFEST = "manifest.csv"
SETTINGS = "preprocess.json"
CROPS = ("none", "face")


@dataclass(frozen=True)
class PreprocessConfig:
    """Settings that change the cached maps (a cache holds one configuration)."""

    size: int = 227  # frames resized to size x size before flow; 0 keeps the native size
    crop: str = "none"  # "face": detect the face on the onset frame, same aligned crop for both frames
    scale_step: float = 0.5  # TV-L1 pyramid scale step
    version: int = 1


def min_max_uint8(x: np.ndarray) -> np.ndarray:
    """Scale ``x`` linearly so that its minimum is 0 and maximum 255 (all zeros if constant)."""
    x = x.astype(np.float32)
    lo, hi = float(x.min()), float(x.max())
    if not np.isfinite(lo) or not np.isfinite(hi) or hi - lo < 1e-12:
        return np.zeros(x.shape, np.uint8)
    return np.clip(np.rint((x - lo) * (255.0 / (hi - lo))), 0, 255).astype(np.uint8)


def compute_features(onset: np.ndarray, apex: np.ndarray, size: int = 227, scale_step: float = 0.5) -> dict[str, np.ndarray]:
    """DSSN maps (uint8 (size, size) each, keys :data:`FEATURE_KEYS`) from an onset and an apex frame."""
    a, b = to_gray(onset), to_gray(apex)
    if size:
        a = cv2.resize(a, (size, size), interpolation=cv2.INTER_AREA)
        b = cv2.resize(b, (size, size), interpolation=cv2.INTER_AREA)
    elif a.shape != b.shape:
        b = cv2.resize(b, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_AREA)
    flow = tvl1_flow(a, b, scale_step=scale_step)
    return {
        "u": min_max_uint8(flow[..., 0]),
        "v": min_max_uint8(flow[..., 1]),
        "mag": min_max_uint8(flow_magnitude(flow)),
        "strain": min_max_uint8(optical_strain(flow)),
        "gray": b.copy(),
    }


def read_image(path: Path) -> np.ndarray:
    """RGB uint8 image; a one-line error naming the file when it cannot be read."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise VidaffectError(f"{path}: cannot read image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


_DETECTOR = None


def _face_crops(onset: np.ndarray, apex: np.ndarray, size: int, source: Path) -> tuple[np.ndarray, np.ndarray]:
    """Detect the face on the onset frame; cut the same aligned crop from onset and apex."""
    global _DETECTOR
    try:
        from vidaffect.faces import FaceDetector, align_faces
        from vidaffect.models.base import CropSpec
    except ImportError as exc:  # pragma: no cover - depends on the faces package
        raise VidaffectError(f"--crop face needs vidaffect.faces ({exc})") from None
    if _DETECTOR is None:
        _DETECTOR = FaceDetector("short", max_faces=1, landmarks=True, video_mode=False)
    dets = _DETECTOR.detect(onset)
    if len(dets.scores) == 0:
        raise VidaffectError(f"{source}: no face found on the onset frame")
    spec = CropSpec(size=size or 227, color="gray", kind="aligned")
    return align_faces(onset, dets, spec)[0], align_faces(apex, dets, spec)[0]


def process_sample(sample: MicroSample, out_file: Path, config: PreprocessConfig) -> Path:
    """Compute one sample's maps and write them atomically to ``out_file`` (compressed npz)."""
    cv2.setNumThreads(1)
    onset, apex = read_image(sample.onset_path), read_image(sample.apex_path)
    if config.crop == "face":
        onset, apex = _face_crops(onset, apex, config.size, sample.onset_path)
    feats = compute_features(onset, apex, size=config.size, scale_step=config.scale_step)
    with atomic_path(out_file) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **feats)
    return out_file


def manifest_frame(samples: list[MicroSample], dataset: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "key": [s.key for s in samples],
            "subject": [s.subject for s in samples],
            "clip": [s.clip for s in samples],
            "emotion": [s.emotion for s in samples],
            "onset": [s.onset for s in samples],
            "apex": [s.apex for s in samples],
            "offset": [s.offset if s.offset is not None else -1 for s in samples],
            "dataset": dataset,
            "file": [f"features/{s.key}.npz" for s in samples],
        }
    )


def _check_settings(out_dir: Path, config: PreprocessConfig) -> None:
    path = out_dir / SETTINGS
    if path.is_file():
        old = json.loads(path.read_text()).get("config")
        if old != asdict(config):
            raise VidaffectError(
                f"{path}: cache was made with other settings ({old}); use another --out or delete the folder"
            )


def preprocess_samples(
    samples: list[MicroSample],
    out_dir: str | Path,
    dataset: str,
    config: PreprocessConfig = PreprocessConfig(),
    workers: int = 2,
    progress: bool = True,
) -> pd.DataFrame:
    """Compute and cache every sample's maps (skipping existing ones); write the manifest.

    ``workers`` processes share the work (1: in this process).  Returns the manifest.
    """
    if config.crop not in CROPS:
        raise VidaffectError(f"unknown crop mode {config.crop!r} (choose from {', '.join(CROPS)})")
    out_dir = Path(out_dir)
    (out_dir / "features").mkdir(parents=True, exist_ok=True)
    _check_settings(out_dir, config)
    atomic_write_text(out_dir / SETTINGS, json.dumps({"config": asdict(config), "dataset": dataset}, indent=2))
    todo = [s for s in samples if not (out_dir / "features" / f"{s.key}.npz").is_file()]
    bar = tqdm(total=len(todo), desc="micro preprocess", unit="sample", disable=not progress or not todo)
    workers = max(1, min(int(workers), len(todo) or 1))
    if workers == 1:
        for s in todo:
            process_sample(s, out_dir / "features" / f"{s.key}.npz", config)
            bar.update(1)
    else:
        # spawn, not fork: forking a process that already runs threads (torch, OpenCV,
        # the face runtime) can deadlock the children
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(process_sample, s, out_dir / "features" / f"{s.key}.npz", config) for s in todo]
            try:
                for fut in as_completed(futures):
                    fut.result()
                    bar.update(1)
            except BaseException:
                for fut in futures:  # stop at the first failure instead of finishing the queue
                    fut.cancel()
                raise
    bar.close()
    manifest = manifest_frame(samples, dataset)
    if (out_dir / MANIFEST).is_file():  # keep samples of earlier runs (e.g. another CSV) in the manifest
        old = pd.read_csv(out_dir / MANIFEST, dtype={"subject": str, "clip": str, "emotion": str, "key": str})
        old = old[~old["key"].isin(manifest["key"])]
        old = old[[(out_dir / f).is_file() for f in old["file"]]]
        manifest = pd.concat([old, manifest], ignore_index=True)
    with atomic_path(out_dir / MANIFEST) as tmp:
        manifest.to_csv(tmp, index=False)
    return manifest


def default_workers() -> int:
    """One worker process per CPU core."""
    return max(1, os.cpu_count() or 1)
