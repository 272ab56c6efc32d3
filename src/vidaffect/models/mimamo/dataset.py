"""``FaceDataset``: MIMAMO training/evaluation snippets from the original directory layout.

Layout (as written by the original pipeline; OpenFace aligned crops, one ResNet feature per frame)::

    ROOT/<video>/<video>_aligned/frame_det_00_000001.bmp ...   aligned 112x112 crops (frame 1, 2, ...)
                                                               (crops directly in ROOT/<video>/ also accepted)
    FEATURES/<video>/00001.npy ...                             2048-d pool5_7x7_s1 feature of frame 1, ...
    ANNOTATIONS/train/<label>/<video>.txt                      one float per line, line i = frame i + 1
                                                               (ANNOTATIONS/<label>/<video>.txt also accepted)

A frame is used when it has a crop, a feature (when ``feature_path`` is given) and,
outside ``test_mode``, a label line; other frames are skipped, as in the original.

Items are ``((level1, level2), rgb, labels, [start, end], video)``: ``level1``
``(T, nbands*num_phase, phase_size, phase_size)``, ``level2`` the same at half size,
``rgb`` ``(T, 2048)``, ``labels`` ``(T, n_labels)`` (``-100`` in ``test_mode``).

Feature caching (``cache_dir``): the phase differences of every frame (float16) and,
without ``feature_path``, the ResNet features computed with ``feature_fn`` are written
once per video to ``cache_dir/<video>/{phase_l1,phase_l2,resnet}.npy`` and memory-mapped
afterwards, so epochs do not recompute them.  Augmentation needs the images, so it is
only applied without a cache.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from vidaffect.errors import VidaffectError
from vidaffect.models.mimamo.sampler import snippet_windows
from vidaffect.motion.phase import PhaseDiffConfig, PhaseDifferenceExtractor, augment_gray, to_gray
from vidaffect.utils.atomic import atomic_path, atomic_write_text

_FRAME_RE = re.compile(r"(\d+)$")
IMAGE_EXTS = (".bmp", ".jpg", ".jpeg", ".png")
CACHE_CHUNK = 64


def _frame_number(path: Path) -> int | None:
    m = _FRAME_RE.search(path.stem)
    return int(m.group(1)) if m else None


def list_crops(root: Path, video: str) -> dict[int, Path]:
    """Frame number -> aligned crop path of ``video``."""
    d = root / video / f"{video}_aligned"
    if not d.is_dir():
        d = root / video
    out = {}
    for p in sorted(d.glob("*")) if d.is_dir() else []:
        if p.suffix.lower() in IMAGE_EXTS and (n := _frame_number(p)) is not None:
            out[n] = p
    return out


def read_labels(annot_dir: Path, video: str, labels: list[str]) -> dict[int, np.ndarray]:
    """Frame number -> label vector, from one text file per label (line i = frame i + 1)."""
    columns = []
    for name in labels:
        path = next((p for p in (annot_dir / "train" / name / f"{video}.txt", annot_dir / name / f"{video}.txt")
                     if p.is_file()), None)
        if path is None:
            raise VidaffectError(f"{annot_dir / name / (video + '.txt')}: annotation file not found")
        try:
            columns.append([float(x) for x in path.read_text().split()])
        except ValueError as exc:
            raise VidaffectError(f"{path}: not one number per line ({exc})") from None
    n = min(len(c) for c in columns)
    return {i + 1: np.array([c[i] for c in columns], np.float32) for i in range(n)}


def load_crops(paths: list[Path]) -> np.ndarray:
    from PIL import Image

    return np.stack([np.asarray(Image.open(p).convert("RGB")) for p in paths])


class FaceDataset(Dataset):
    """MIMAMO snippets of several videos (arguments as the original's ``Face_Dataset``).

    Args:
        root_path: folder of aligned face crops, one sub-folder per video (layout above).
        feature_path: folder of per-frame ResNet features (``<video>/00001.npy``), or None to compute
            them with ``feature_fn`` (crops -> ``(N, 2048)``) and cache them in ``cache_dir``.
        annot_dir: folder of annotation text files (layout above).
        video_name_list: the videos (sub-folder names) to use.
        label_name: labels joined by ``_``, in output order (default ``valence_arousal``).
        py_level: steerable pyramid height, residuals included (4).
        py_nbands: pyramid orientations (2).
        test_mode: no labels needed (they are -100); windows of ``length`` without overlap, the last one
            aligned to the end, and no augmentation.
        num_phase: phase differences per orientation (12): each frame looks at ``num_phase + 1`` frames.
        phase_size: side of the gray frames fed to the pyramid (48).
        length: frames per snippet (64).
        stride: step between training snippets (32); ignored in ``test_mode``.
        return_phase: return the centred denoised phases instead of their differences.
        cache_dir: folder for cached phase differences / features (None: compute per item).
        augment: random flip + crop shared by a snippet; default: on for training without a cache.
        feature_fn: ResNet feature function, needed when ``feature_path`` is None.
        seed: seed of the augmentation.
        legacy_unwrap: reproduce the original's phase unwrap (for evaluating original checkpoints).
    """

    def __init__(self, root_path: str | Path, feature_path: str | Path | None, annot_dir: str | Path | None,
                 video_name_list: list[str], label_name: str = "valence_arousal", py_level: int = 4,
                 py_nbands: int = 2, test_mode: bool = False, num_phase: int = 12, phase_size: int = 48,
                 length: int = 64, stride: int = 32, return_phase: bool = False,
                 cache_dir: str | Path | None = None, augment: bool | None = None,
                 feature_fn: Callable[[np.ndarray], torch.Tensor] | None = None, seed: int = 0,
                 legacy_unwrap: bool = False) -> None:
        self.root = Path(root_path)
        self.feature_path = None if feature_path is None else Path(feature_path)
        self.annot_dir = None if annot_dir is None else Path(annot_dir)
        self.labels = label_name.split("_")
        self.test_mode, self.length = test_mode, length
        self.stride = length if test_mode else stride
        self.config = PhaseDiffConfig(num_phase=num_phase, phase_size=phase_size, py_level=py_level,
                                      py_nbands=py_nbands, return_phase=return_phase, legacy_unwrap=legacy_unwrap)
        self.extractor = PhaseDifferenceExtractor(self.config)
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self.augment = (not test_mode and self.cache_dir is None) if augment is None else augment
        self.feature_fn = feature_fn
        self.rng = np.random.default_rng(seed)
        if self.feature_path is None and feature_fn is None:
            raise VidaffectError("FaceDataset: give feature_path (per-frame ResNet features) or a ResNet "
                                 "feature function (--resnet-checkpoint)")
        if not test_mode and self.annot_dir is None:
            raise VidaffectError("FaceDataset: annotations are needed outside test_mode")
        self.videos: list[dict] = []
        self.items: list[tuple[int, int, int]] = []
        for name in video_name_list:
            rec = self._parse(name)
            if not rec["frames"]:
                continue
            vid = len(self.videos)
            self.videos.append(rec)
            self.items += [(vid, s, e) for s, e in snippet_windows(len(rec["frames"]), length, self.stride)]

    # ------------------------------------------------------------ parsing
    def _parse(self, video: str) -> dict:
        crops = list_crops(self.root, video)
        if not crops:
            raise VidaffectError(f"{self.root / video}: no aligned face crops found")
        frames = sorted(crops)
        feats = None
        if self.feature_path is not None:
            d = self.feature_path / video
            feats = {n: p for p in d.glob("*.npy") if (n := _frame_number(p)) is not None} if d.is_dir() else {}
            if not feats:
                raise VidaffectError(f"{d}: no per-frame feature files (*.npy)")
            frames = [f for f in frames if f in feats]
        if self.test_mode:
            labels = np.full((len(frames), len(self.labels)), -100, np.float32)
        else:
            lab = read_labels(self.annot_dir, video, self.labels)
            frames = [f for f in frames if f in lab]
            labels = np.stack([lab[f] for f in frames]) if frames else np.zeros((0, len(self.labels)), np.float32)
        return {"name": video, "frames": frames, "crops": [crops[f] for f in frames],
                "features": None if feats is None else [feats[f] for f in frames], "labels": labels}

    def __len__(self) -> int:
        return len(self.items)

    # ------------------------------------------------------------ inputs
    def _features(self, rec: dict, lo: int, hi: int) -> np.ndarray:
        if rec["features"] is not None:
            return np.stack([np.load(p).reshape(-1) for p in rec["features"][lo:hi]]).astype(np.float32)
        return self.feature_fn(load_crops(rec["crops"][lo:hi])).numpy().astype(np.float32)

    def _cache_paths(self, rec: dict) -> dict[str, Path]:
        d = self.cache_dir / rec["name"]
        return {k: d / f"{k}.npy" for k in ("phase_l1", "phase_l2", "resnet")} | {"meta": d / "meta.json"}

    def _cache_key(self, rec: dict) -> dict:
        return {"frames": rec["frames"], "phase": asdict(self.config), "features": rec["features"] is None}

    def prepare_cache(self, progress: Callable[[str], None] | None = None) -> None:
        """Compute and store the phase differences (and features) of every video not cached yet."""
        if self.cache_dir is None:
            return
        for rec in self.videos:
            paths = self._cache_paths(rec)
            key = self._cache_key(rec)
            if paths["meta"].is_file() and json.loads(paths["meta"].read_text()) == key:
                continue
            if progress:
                progress(rec["name"])
            n = len(rec["frames"])
            paths["meta"].parent.mkdir(parents=True, exist_ok=True)
            gray = to_gray(load_crops(rec["crops"]), self.config.phase_size)
            shapes = self.extractor.output_shapes()
            arrays = [np.lib.format.open_memmap(self._tmp(p), mode="w+", dtype=np.float16, shape=(n, *s))
                      for p, s in zip((paths["phase_l1"], paths["phase_l2"]), shapes)]
            ctx = self.config.num_phase // 2
            for s in range(0, n, CACHE_CHUNK):
                e = min(n, s + CACHE_CHUNK)
                lo, hi = max(0, s - ctx), min(n, e + ctx)
                outs = self.extractor(gray[lo:hi], np.arange(s - lo, e - lo))
                for arr, o in zip(arrays, outs):
                    arr[s:e] = o.numpy().astype(np.float16)
            for arr, p in zip(arrays, (paths["phase_l1"], paths["phase_l2"])):
                arr.flush()
                del arr
                self._tmp(p).replace(p)
            if rec["features"] is None:
                feats = np.concatenate([self._features(rec, s, min(n, s + CACHE_CHUNK))
                                        for s in range(0, n, CACHE_CHUNK)]).astype(np.float16)
                with atomic_path(paths["resnet"]) as tmp:
                    with open(tmp, "wb") as fh:
                        np.save(fh, feats)
            atomic_write_text(paths["meta"], json.dumps(key))

    @staticmethod
    def _tmp(p: Path) -> Path:
        return p.with_name(p.name + ".part")

    def video_inputs(self, vid: int, start: int, end: int, augment: bool = False) -> tuple:
        """``(level1, level2, rgb, labels)`` tensors of frames ``[start, end)`` of video ``vid``."""
        rec = self.videos[vid]
        n = len(rec["frames"])
        if self.cache_dir is not None and not augment:
            paths = self._cache_paths(rec)
            if not paths["meta"].is_file():
                self.prepare_cache()
            l1 = torch.from_numpy(np.load(paths["phase_l1"], mmap_mode="r")[start:end].astype(np.float32))
            l2 = torch.from_numpy(np.load(paths["phase_l2"], mmap_mode="r")[start:end].astype(np.float32))
            if rec["features"] is None:
                rgb = np.load(paths["resnet"], mmap_mode="r")[start:end].astype(np.float32)
            else:
                rgb = self._features(rec, start, end)
        else:
            ctx = self.config.num_phase // 2
            lo, hi = max(0, start - ctx), min(n, end + ctx)
            gray = to_gray(load_crops(rec["crops"][lo:hi]), self.config.phase_size)
            if augment:
                gray = augment_gray(gray, self.rng)
            l1, l2 = self.extractor(gray, np.arange(start - lo, end - lo))
            rgb = self._features(rec, start, end)
        return l1, l2, torch.from_numpy(np.ascontiguousarray(rgb)), torch.from_numpy(rec["labels"][start:end])

    def __getitem__(self, index: int):
        vid, s, e = self.items[index]
        l1, l2, rgb, labels = self.video_inputs(vid, s, e, augment=self.augment)
        return (l1, l2), rgb, labels, np.array([s, e]), self.videos[vid]["name"]
