"""Multi-person face-detection benchmark: recall and false faces per face-size bucket.

Usage::

    python benchmarks/face_recall.py [--detector short|full|NAME] [--detect-every N] [--mesh-every N]
                                     [--canvas sd,720p,1080p] [--extra KEY=VALUE ...] [--json OUT]

What it measures
    Synthetic multi-person clips are built (once, then cached) from the shared
    single-face videos and their ground-truth boxes in ``benchmarks/data/face_boxes.json``
    (made by ``benchmarks/annotate_faces.py`` with the old MediaPipe detector, never with
    the detector under test).  Each canvas (SD 640x480, 720p, 1080p) shows 4-8 faces at
    once (fewer where they do not fit) on real face-free background frames
    (``no_face.mp4``); every face is a crop of
    a source frame around its annotated box (enlarged 2.2x: hair and shoulders come
    along) scaled so that the box width falls in a chosen size bucket
    (24-32, 32-40, 40-64, 64-128, 128-256, 256+ px; only sizes that fit the canvas).
    Clips are made of segments separated by hard cuts (new layout, sizes, sources and
    background); inside a segment the source frames advance, so faces move and talk.
    The detector is reset at every cut, as the pipeline does.

    Detections are matched to the ground truth frame by frame (Hungarian, IoU >= --iou).
    A detection that matches no face is a false face.  Faces cut by their tile so that
    less than 60 % of the box shows, or narrower than 24 px, are "don't care": they
    count neither as missed nor, when detected, as false.  The detector also runs over
    face-free videos (all of no_face.mp4 and the animated half of face_noface.mov) and
    false faces per frame there are reported.  fps times the detect() calls only, on
    the synthetic frames.

Output
    Per canvas and for all canvases together: per face-size bucket the faces, how many
    were found and the recall, and false faces by their own box width; false faces as a
    % of all detections ("on a face": a false box that still overlaps a face, i.e. too
    loose or shifted); mean IoU of the matches; detect fps.  Then false faces per frame
    on the face-free videos and a SUMMARY line against the targets.  --json OUT writes
    the same numbers.

The detector is built as ``vidaffect.faces.FaceDetector(model=--detector,
min_confidence=..., max_faces=..., landmarks=..., video_mode=True,
detect_every=..., mesh_every=..., **extra)``; whichever vidaffect is importable
is used (prepend ``PYTHONPATH=<tree>/src`` to benchmark another tree).  The
project's targets: recall >= 0.97 for faces >= 40 px, false faces <= 0.5 % of
detections.
"""
from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Callable, Iterator, NoReturn

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VIDEOS = ROOT.parent / "shared" / "data" / "videos"
DEFAULT_ANNOTATIONS = ROOT / "benchmarks" / "data" / "face_boxes.json"
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "vidaffect" / "bench" / "face_recall"
PROG = "face_recall.py"

CANVASES: dict[str, tuple[int, int]] = {"sd": (640, 480), "720p": (1280, 720), "1080p": (1920, 1080)}
BUCKETS: list[tuple[int, int | None]] = [(24, 32), (32, 40), (40, 64), (64, 128), (128, 256), (256, None)]
BIG_FACE = 40  # the recall target applies to faces at least this wide
TARGET_RECALL, TARGET_FALSE_PCT = 0.97, 0.5
BACKGROUND_VIDEO = "no_face.mp4"

# Synthetic clip construction.  Change BUILD_VERSION whenever the construction changes (new cache).
BUILD_VERSION = 1
CONTEXT = 2.2  # tile = annotated box enlarged this much (where the source frame allows)
MAX_UPSCALE = 2.0  # a source face is never enlarged more than this
MAX_FACE_OF_HEIGHT = 0.45  # largest face width as a fraction of the canvas height
MIN_VISIBLE = 0.6  # a face whose box shows less than this fraction in its tile is "don't care"
TILE_GAP = 6  # px between tiles
FEATHER = 0.06  # tile border blended into the background over this fraction of its smaller side
FPS = 30
LOOSE_IOU = 0.1  # a false face overlapping a face at least this much is reported as "on a face"


# ----------------------------------------------------------------------------- command line
def parse_extra(items: list[str]) -> dict[str, Any]:
    """``["k=3", "x=0.5", "flag=true", "name=abc"]`` -> kwargs (ints, floats, bools, None parsed)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.isidentifier():
            raise ValueError(f"--extra expects KEY=VALUE with KEY a Python name, got {item!r}")
        out[key] = parse_value(raw)
    return out


def parse_value(raw: str) -> Any:
    """A command-line value as int, float, bool, None or str."""
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(raw.lower(), raw)


def parse_canvases(text: str) -> list[str]:
    """``"sd,720p"`` -> ``["sd", "720p"]``; ValueError naming the unknown ones."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in CANVASES]
    if bad or not names:
        raise ValueError(f"unknown canvas {', '.join(map(repr, bad)) or repr(text)} in --canvas; "
                         f"choose from {', '.join(CANVASES)}")
    return list(dict.fromkeys(names))


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = ap.add_argument_group("detector under test")
    d.add_argument("--detector", default="short", metavar="NAME",
                   help="FaceDetector model name, passed through as model=NAME (default: short; the old code "
                        "knows short and full, newer code may know more)")
    d.add_argument("--min-confidence", type=float, default=None, metavar="X",
                   help="min_confidence (default: the detector's own; the previous release's detector takes 0.5)")
    d.add_argument("--max-faces", type=int, default=20, metavar="N", help="max_faces (default: 20)")
    d.add_argument("--detect-every", type=int, default=1, metavar="N", help="detect_every (default: 1)")
    d.add_argument("--mesh-every", type=int, default=1, metavar="N", help="mesh_every (default: 1)")
    d.add_argument("--no-landmarks", action="store_true", help="landmarks=False (default: landmarks=True)")
    d.add_argument("--extra", action="append", default=[], metavar="KEY=VALUE",
                   help="extra FaceDetector keyword argument (repeatable); ints, floats, true/false and none "
                        "are parsed, anything else stays a string")
    b = ap.add_argument_group("benchmark")
    b.add_argument("--canvas", default="sd,720p,1080p", metavar="LIST",
                   help="comma-separated canvases to run: sd (640x480), 720p (1280x720), 1080p (1920x1080) "
                        "(default: all three)")
    b.add_argument("--iou", type=float, default=0.4, metavar="X",
                   help="IoU a detection needs to match a face (default: 0.4)")
    b.add_argument("--no-negatives", action="store_true", help="skip the face-free videos")
    b.add_argument("--json", type=Path, metavar="OUT", help="also write the numbers to this JSON file")
    b.add_argument("--draw", type=Path, metavar="DIR",
                   help="save the first frame of every segment as PNG with faces (green), matched (blue) and "
                        "false (red) detections")
    c = ap.add_argument_group("data and synthetic clips")
    c.add_argument("--videos", type=Path, default=DEFAULT_VIDEOS, metavar="DIR",
                   help=f"folder with the shared videos (default: {DEFAULT_VIDEOS})")
    c.add_argument("--annotations", type=Path, default=DEFAULT_ANNOTATIONS, metavar="FILE",
                   help="ground-truth boxes made by annotate_faces.py (default: benchmarks/data/face_boxes.json)")
    c.add_argument("--cache", type=Path, default=DEFAULT_CACHE, metavar="DIR",
                   help=f"where the synthetic clips are built and kept (default: {DEFAULT_CACHE})")
    c.add_argument("--rebuild", action="store_true", help="build the synthetic clips again even if cached")
    c.add_argument("--seed", type=int, default=0, metavar="N",
                   help="layout seed (default: 0; another seed = other clips)")
    c.add_argument("--clips", type=int, default=8, metavar="N",
                   help="clips per canvas (default: 8; 8 clips x 4 segments x 15 frames = 480 frames per canvas)")
    c.add_argument("--segments", type=int, default=4, metavar="N", help="segments (hard cuts) per clip (default: 4)")
    c.add_argument("--segment-frames", type=int, default=15, metavar="N", help="frames per segment (default: 15)")
    return ap


def fail(message: str) -> NoReturn:
    """Exit with a one-line error."""
    sys.exit(f"{PROG}: error: {message}")


def check_args(args: argparse.Namespace) -> None:
    """Validate the arguments and the data on disk; exits with a one-line error."""
    try:
        args.canvases = parse_canvases(args.canvas)
        args.extra_kwargs = parse_extra(args.extra)
    except ValueError as e:
        fail(str(e))
    for name in ("detect_every", "mesh_every", "max_faces", "clips", "segments", "segment_frames"):
        if getattr(args, name) < 1:
            fail(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if not 0 < args.iou < 1:
        fail(f"--iou must be in (0, 1), got {args.iou}")
    if not args.annotations.is_file():
        fail(f"ground-truth file not found: {args.annotations} (make it with benchmarks/annotate_faces.py)")
    if not args.videos.is_dir():
        fail(f"shared videos not found: looked in {args.videos} (see ../shared/data/README.md; or pass --videos DIR)")


# ----------------------------------------------------------------------------- ground truth and sources
@dataclass
class Source:
    """One single-face source video: annotated frame indices and boxes, runs of consecutive frames."""

    name: str
    size: tuple[int, int]  # (width, height)
    frames: np.ndarray  # (N,) frame indices
    boxes: np.ndarray  # (N, 4) xyxy in source pixels
    runs: list[tuple[int, int]] = field(default_factory=list)  # [start, stop) positions into frames

    @property
    def face_width(self) -> float:
        """Median annotated face width (px)."""
        return float(np.median(self.boxes[:, 2] - self.boxes[:, 0]))


def load_annotations(path: Path) -> tuple[dict[str, Source], dict[str, tuple[int, int | None]], dict]:
    """Sources, negative frame ranges and provenance from ``face_boxes.json``."""
    try:
        doc = json.loads(path.read_text())
        sources = {}
        for name, entry in doc["sources"].items():
            rows = np.asarray(entry["frames"], dtype=np.float64).reshape(-1, 6)
            src = Source(name, (int(entry["width"]), int(entry["height"])), rows[:, 0].astype(int), rows[:, 1:5])
            src.runs = consecutive_runs(src.frames)
            sources[name] = src
        negatives = {name: (int(e["range"][0]), e["range"][1]) for name, e in doc["negatives"].items()}
    except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
        fail(f"cannot read ground truth {path}: {e}")
    return sources, negatives, doc.get("provenance", {})


def consecutive_runs(frames: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) position ranges where the annotated frames follow at the usual step."""
    if len(frames) == 0:
        return []
    gaps = np.diff(frames)
    step = int(np.median(gaps)) if len(gaps) else 1
    breaks = np.flatnonzero(gaps != step) + 1
    edges = [0, *breaks.tolist(), len(frames)]
    return list(zip(edges[:-1], edges[1:]))


def check_videos(videos: Path, names: list[str]) -> None:
    """One-line error unless every named video is in ``videos``."""
    missing = [n for n in dict.fromkeys(names) if not (videos / n).is_file()]
    if missing:
        fail(f"shared video(s) not found in {videos}: {', '.join(missing)} (pass --videos DIR)")


def decode_frames(path: Path, wanted: set[int] | None = None, start: int = 0,
                  stop: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(index, rgb)`` of a video's frames: those in ``wanted``, or all in ``[start, stop)``."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        last = max(wanted) if wanted else None
        for i, frame in enumerate(container.decode(stream)):
            if (last is not None and i > last) or (stop is not None and i >= stop):
                break
            if (i in wanted) if wanted is not None else i >= start:
                yield i, frame.to_ndarray(format="rgb24")


# ----------------------------------------------------------------------------- layout planning
@dataclass
class Slot:
    """One face tile of a segment: which source frames, which window of them, where on the canvas."""

    source: str
    positions: list[int]  # positions into Source.frames, one per segment frame
    window: tuple[int, int, int, int]  # x0, y0, x1, y1 in source pixels
    tile: tuple[int, int, int, int]  # x0, y0, x1, y1 on the canvas
    face_px: float  # planned face box width


@dataclass
class Segment:
    """The stretch between two hard cuts: background frames and face slots."""

    background_start: int
    background_crop_x: float  # 0..1: horizontal position of the crop when the aspect differs
    flip: bool
    slots: list[Slot]


def size_range(bucket: tuple[int, int | None], canvas: tuple[int, int]) -> tuple[float, float] | None:
    """Face widths to draw from for a bucket on a canvas (kept off the bucket edges), None if it does not fit."""
    lo, hi = bucket
    top = MAX_FACE_OF_HEIGHT * canvas[1]
    hi = min(hi if hi is not None else top, top)
    lo, hi = lo * 1.04, hi * 0.96
    return (lo, hi) if hi > lo else None


def face_window(src: Source, pos: int, scale: float, canvas: tuple[int, int]) -> tuple[int, int, int, int]:
    """Source-pixel window around the face at ``pos``: the box enlarged CONTEXT times, inside the frame."""
    x1, y1, x2, y2 = src.boxes[pos]
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    sw, sh = src.size
    ww = min(CONTEXT * (x2 - x1), sw, canvas[0] / scale)
    wh = min(CONTEXT * (y2 - y1), sh, canvas[1] / scale)
    x0 = float(np.clip(cx - ww / 2, 0, sw - ww))
    y0 = float(np.clip(cy - wh / 2, 0, sh - wh))
    return int(round(x0)), int(round(y0)), int(round(x0 + ww)), int(round(y0 + wh))


def place(tiles: list[tuple[int, int]], canvas: tuple[int, int], rng: np.random.Generator,
          tries: int = 300) -> list[tuple[int, int, int, int] | None]:
    """Random non-overlapping positions for tiles of size (w, h), largest first; None where none was found."""
    order = sorted(range(len(tiles)), key=lambda i: -tiles[i][0] * tiles[i][1])
    placed: list[tuple[int, int, int, int]] = []
    out: list[tuple[int, int, int, int] | None] = [None] * len(tiles)
    W, H = canvas
    for i in order:
        w, h = tiles[i]
        if w > W or h > H:
            continue
        for _ in range(tries):
            x, y = int(rng.integers(0, W - w + 1)), int(rng.integers(0, H - h + 1))
            if all(x + w + TILE_GAP <= a or a2 + TILE_GAP <= x or y + h + TILE_GAP <= b or b2 + TILE_GAP <= y
                   for a, b, a2, b2 in placed):
                out[i] = (x, y, x + w, y + h)
                placed.append(out[i])
                break
    return out


def pick_slot(rng: np.random.Generator, sources: dict[str, Source], face_px: float, frames: int,
              canvas: tuple[int, int]) -> tuple[Slot, tuple[int, int]] | None:
    """A source run long enough for the segment whose face may be scaled to ``face_px``; slot without position."""
    fits = [s for s in sources.values()
            if s.face_width * MAX_UPSCALE >= face_px and any(b - a >= frames for a, b in s.runs)]
    if not fits:
        return None
    src = fits[int(rng.integers(len(fits)))]
    runs = [(a, b) for a, b in src.runs if b - a >= frames]
    a, b = runs[int(rng.integers(len(runs)))]
    first = int(rng.integers(a, b - frames + 1))
    box = src.boxes[first]
    scale = face_px / (box[2] - box[0])
    window = face_window(src, first, scale, canvas)
    size = (max(1, int(round((window[2] - window[0]) * scale))), max(1, int(round((window[3] - window[1]) * scale))))
    return Slot(src.name, list(range(first, first + frames)), window, (0, 0, 0, 0), face_px), size


def plan_canvas(name: str, sources: dict[str, Source], background_frames: int, args: argparse.Namespace
                ) -> list[list[Segment]]:
    """Clips -> segments -> face slots for one canvas, deterministic in (seed, canvas)."""
    canvas = CANVASES[name]
    rng = np.random.default_rng([args.seed, list(CANVASES).index(name)])
    ranges = [r for r in (size_range(b, canvas) for b in BUCKETS) if r is not None]
    placed_per_bucket = np.zeros(len(ranges), dtype=int)
    clips = []
    for _ in range(args.clips):
        segments = []
        for _ in range(args.segments):
            wanted = int(rng.integers(4, 9))
            picks, sizes, buckets = [], [], []
            for _ in range(wanted):
                # the bucket with the fewest faces so far (ties at random) keeps the buckets balanced
                counts = placed_per_bucket + np.bincount(np.asarray(buckets, dtype=int), minlength=len(ranges))
                k = int(rng.choice(np.flatnonzero(counts == counts.min())))
                lo, hi = ranges[k]
                got = pick_slot(rng, sources, float(np.exp(rng.uniform(np.log(lo), np.log(hi)))),
                                args.segment_frames, canvas)
                if got is not None:
                    picks.append(got[0])
                    sizes.append(got[1])
                    buckets.append(k)
            slots = []
            for slot, pos, k in zip(picks, place(sizes, canvas, rng), buckets):
                if pos is not None:
                    slot.tile = pos
                    slots.append(slot)
                    placed_per_bucket[k] += 1
            segments.append(Segment(int(rng.integers(background_frames)), float(rng.uniform()),
                                    bool(rng.integers(2)), slots))
        clips.append(segments)
    return clips


# ----------------------------------------------------------------------------- rendering
def fit_background(frame: np.ndarray, canvas: tuple[int, int], crop_x: float, flip: bool) -> np.ndarray:
    """Crop a background frame to the canvas aspect (at ``crop_x``) and resize it to the canvas."""
    import cv2

    h, w = frame.shape[:2]
    W, H = canvas
    if w * H > h * W:  # too wide: crop columns
        cw = int(round(h * W / H))
        x0 = int(round(crop_x * (w - cw)))
        frame = frame[:, x0:x0 + cw]
    elif w * H < h * W:
        ch = int(round(w * H / W))
        y0 = int(round(crop_x * (h - ch)))
        frame = frame[y0:y0 + ch]
    out = cv2.resize(frame, canvas, interpolation=cv2.INTER_AREA if frame.shape[1] > W else cv2.INTER_LINEAR)
    return out[:, ::-1] if flip else out


def feather_mask(h: int, w: int) -> np.ndarray:
    """(h, w, 1) float32 alpha: 1 inside, linear ramp to the border over FEATHER of the smaller side."""
    r = max(1.0, FEATHER * min(h, w))
    ys = np.minimum(np.arange(h) + 0.5, h - np.arange(h) - 0.5) / r
    xs = np.minimum(np.arange(w) + 0.5, w - np.arange(w) - 0.5) / r
    return np.clip(np.minimum(ys[:, None], xs[None, :]), 0, 1).astype(np.float32)[..., None]


def paste(canvas: np.ndarray, image: np.ndarray, tile: tuple[int, int, int, int]) -> None:
    """Blend ``image`` (already tile-sized) into ``canvas`` at ``tile`` with a feathered border."""
    x0, y0, x1, y1 = tile
    alpha = feather_mask(y1 - y0, x1 - x0)
    region = canvas[y0:y1, x0:x1].astype(np.float32)
    canvas[y0:y1, x0:x1] = (region + alpha * (image.astype(np.float32) - region) + 0.5).astype(np.uint8)


def slot_image(frame: np.ndarray, slot: Slot) -> np.ndarray:
    """The slot's source window resized to its tile."""
    import cv2

    x0, y0, x1, y1 = slot.window
    tw, th = slot.tile[2] - slot.tile[0], slot.tile[3] - slot.tile[1]
    crop = frame[y0:y1, x0:x1]
    interp = cv2.INTER_AREA if tw < crop.shape[1] else cv2.INTER_CUBIC
    return cv2.resize(crop, (tw, th), interpolation=interp)


def slot_truth(src: Source, slot: Slot, pos: int) -> list[float]:
    """``[x1, y1, x2, y2, dont_care]`` of the slot's face on the canvas at source position ``pos``."""
    x0, y0, x1, y1 = slot.window
    tx0, ty0, tx1, ty1 = slot.tile
    sx, sy = (tx1 - tx0) / (x1 - x0), (ty1 - ty0) / (y1 - y0)
    b = src.boxes[pos]
    box = np.array([(b[0] - x0) * sx + tx0, (b[1] - y0) * sy + ty0, (b[2] - x0) * sx + tx0, (b[3] - y0) * sy + ty0])
    clipped = np.array([max(box[0], tx0), max(box[1], ty0), min(box[2], tx1), min(box[3], ty1)])
    area = max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])
    seen = max(0.0, clipped[2] - clipped[0]) * max(0.0, clipped[3] - clipped[1])
    dont_care = area <= 0 or seen / area < MIN_VISIBLE or clipped[2] - clipped[0] < BUCKETS[0][0]
    return [round(float(v), 1) for v in clipped] + [int(dont_care)]


@contextmanager
def h264_writer(path: Path, size: tuple[int, int], fps: int = FPS) -> Iterator[Callable[[np.ndarray], None]]:
    """``write(rgb)`` for frames of ``size`` (width, height) into an H.264 file (CRF 16), flushed at the end."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"crf": "16", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"

        def write(image: np.ndarray) -> None:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)

        yield write
        for packet in stream.encode():
            container.mux(packet)


def render_canvas(name: str, clips: list[list[Segment]], sources: dict[str, Source], frames: dict,
                  backgrounds: list[np.ndarray], out: Path) -> dict:
    """Encode one canvas's clips to ``out`` (H.264) and return its ground truth."""
    canvas = CANVASES[name]
    truth, segment_starts, clip_starts, slots_info = [], [], [], []
    tmp = out.with_suffix(".part.mp4")
    with h264_writer(tmp, canvas) as write:
        for segments in clips:
            clip_starts.append(len(truth))
            for seg in segments:
                segment_starts.append(len(truth))
                slots_info.append([[s.source, int(sources[s.source].frames[s.positions[0]]), round(s.face_px, 1),
                                    list(s.tile)] for s in seg.slots])
                for k in range(len(seg.slots[0].positions) if seg.slots else 0):
                    bg = backgrounds[bounce(seg.background_start + k, len(backgrounds))]
                    image = fit_background(bg, canvas, seg.background_crop_x, seg.flip).copy()
                    boxes = []
                    for slot in seg.slots:
                        src = sources[slot.source]
                        pos = slot.positions[k]
                        paste(image, slot_image(frames[slot.source, int(src.frames[pos])], slot), slot.tile)
                        boxes.append(slot_truth(src, slot, pos))
                    truth.append(boxes)
                    write(image)
    os.replace(tmp, out)
    return {"canvas": name, "size": list(canvas), "fps": FPS, "clip_starts": clip_starts,
            "segment_starts": segment_starts, "segments": slots_info, "frames": truth}


def bounce(i: int, n: int) -> int:
    """Index ``i`` of a sequence of length ``n`` played forwards then backwards (ping-pong)."""
    if n <= 1:
        return 0
    i %= 2 * n - 2
    return i if i < n else 2 * n - 2 - i


def cache_key(args: argparse.Namespace) -> str:
    """Hash of everything the synthetic clips depend on."""
    h = hashlib.sha256()
    h.update(args.annotations.read_bytes())
    for name in sorted({BACKGROUND_VIDEO, *json.loads(args.annotations.read_text())["sources"]}):
        p = args.videos / name
        h.update(f"{name}:{p.stat().st_size}".encode())
    h.update(json.dumps([BUILD_VERSION, args.seed, args.clips, args.segments, args.segment_frames,
                         CONTEXT, MAX_UPSCALE, MAX_FACE_OF_HEIGHT, MIN_VISIBLE, TILE_GAP, FEATHER, FPS,
                         BUCKETS, CANVASES]).encode())
    return h.hexdigest()[:16]


def build_clips(args: argparse.Namespace, sources: dict[str, Source]) -> dict[str, tuple[Path, dict]]:
    """The synthetic clip (video path, ground truth) of each selected canvas, built where not cached."""
    folder = args.cache / f"v{BUILD_VERSION}-{cache_key(args)}"
    todo = [n for n in args.canvases
            if args.rebuild or not (folder / f"{n}.mp4").is_file() or not (folder / f"{n}.json").is_file()]
    if todo:
        t = time.perf_counter()
        print(f"building synthetic clips for {', '.join(todo)} in {folder} ...", file=sys.stderr, flush=True)
        folder.mkdir(parents=True, exist_ok=True)
        backgrounds = [f for _, f in decode_frames(args.videos / BACKGROUND_VIDEO)]
        plans = {n: plan_canvas(n, sources, len(backgrounds), args) for n in todo}
        frames = load_source_frames(args.videos, sources, plans)
        for n in todo:
            truth = render_canvas(n, plans[n], sources, frames, backgrounds, folder / f"{n}.mp4")
            tmp = folder / f"{n}.json.part"
            tmp.write_text(json.dumps(truth, separators=(",", ":")))
            os.replace(tmp, folder / f"{n}.json")
        print(f"built in {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    return {n: (folder / f"{n}.mp4", json.loads((folder / f"{n}.json").read_text())) for n in args.canvases}


def load_source_frames(videos: Path, sources: dict[str, Source], plans: dict) -> dict[tuple[str, int], np.ndarray]:
    """Decode the source frames the plans use: ``{(video, frame index): rgb}``."""
    wanted: dict[str, set[int]] = {}
    for clips in plans.values():
        for segments in clips:
            for seg in segments:
                for slot in seg.slots:
                    idx = sources[slot.source].frames[slot.positions]
                    wanted.setdefault(slot.source, set()).update(int(i) for i in idx)
    return {(name, i): f for name, idx in wanted.items() for i, f in decode_frames(videos / name, idx)}


# ----------------------------------------------------------------------------- evaluation
@dataclass
class Tally:
    """Counts for one canvas (or all): faces and matches per bucket, detections, false faces, time."""

    gt: np.ndarray = field(default_factory=lambda: np.zeros(len(BUCKETS), dtype=int))
    found: np.ndarray = field(default_factory=lambda: np.zeros(len(BUCKETS), dtype=int))
    false_by_width: np.ndarray = field(default_factory=lambda: np.zeros(len(BUCKETS) + 1, dtype=int))  # + "<24"
    detections: int = 0
    false_on_face: int = 0  # false faces that still overlap a face (IoU >= LOOSE_IOU): box too loose/off
    dont_care_hits: int = 0
    frames: int = 0
    seconds: float = 0.0
    ious: list[float] = field(default_factory=list)

    def add(self, other: "Tally") -> None:
        """Add another tally's counts to this one."""
        self.gt += other.gt
        self.found += other.found
        self.false_by_width += other.false_by_width
        self.detections += other.detections
        self.false_on_face += other.false_on_face
        self.dont_care_hits += other.dont_care_hits
        self.frames += other.frames
        self.seconds += other.seconds
        self.ious += other.ious

    @property
    def false_faces(self) -> int:
        """Detections that matched no face."""
        return int(self.false_by_width.sum())


def bucket_of(width: float) -> int:
    """Index into BUCKETS of a box width; -1 below the smallest bucket."""
    for k, (lo, hi) in enumerate(BUCKETS):
        if width >= lo and (hi is None or width < hi):
            return k
    return -1


def match_frame(truth: list[list[float]], xyxy: np.ndarray, iou_min: float, tally: Tally) -> np.ndarray:
    """Match one frame's detections to its faces; update ``tally``.  Returns (N,) detection state:
    1 matched a face, 0 don't-care face, -1 false."""
    from scipy.optimize import linear_sum_assignment

    from vidaffect.faces import box_iou

    gt = np.asarray(truth, dtype=np.float64).reshape(-1, 5)
    counted = gt[:, 4] == 0
    for w in gt[counted, 2] - gt[counted, 0]:
        tally.gt[bucket_of(w)] += 1
    state = np.full(len(xyxy), -1)
    if len(xyxy) and len(gt):
        iou = box_iou(xyxy, gt[:, :4])
        rows, cols = linear_sum_assignment(-iou)
        for r, c in zip(rows, cols):
            if iou[r, c] < iou_min:
                continue
            if counted[c]:
                state[r] = 1
                tally.found[bucket_of(gt[c, 2] - gt[c, 0])] += 1
                tally.ious.append(float(iou[r, c]))
            else:
                state[r] = 0
                tally.dont_care_hits += 1
    false = state == -1
    for w in xyxy[false, 2] - xyxy[false, 0]:
        tally.false_by_width[bucket_of(w) if bucket_of(w) >= 0 else len(BUCKETS)] += 1
    if false.any() and len(gt):
        tally.false_on_face += int((box_iou(xyxy[false], gt[:, :4]).max(1) >= LOOSE_IOU).sum())
    tally.detections += len(xyxy)
    return state


def make_detector(args: argparse.Namespace):
    """The FaceDetector under test; one-line error when it cannot be built."""
    from vidaffect.faces import FaceDetector

    kwargs = dict(model=args.detector, max_faces=args.max_faces,
                  landmarks=not args.no_landmarks, video_mode=True, detect_every=args.detect_every,
                  mesh_every=args.mesh_every, **args.extra_kwargs)
    if args.min_confidence is not None:
        kwargs["min_confidence"] = args.min_confidence
    try:
        return FaceDetector(**kwargs)
    except Exception as e:  # noqa: BLE001 - any construction error is reported on one line
        fail(f"FaceDetector({', '.join(f'{k}={v!r}' for k, v in kwargs.items())}) failed: "
             f"{type(e).__name__}: {e}".replace("\n", " "))


def run_canvas(det, video: Path, truth: dict, args: argparse.Namespace) -> Tally:
    """Detect on every frame of one synthetic canvas clip (reset at every cut) and tally the results."""
    tally = Tally()
    starts = set(truth["segment_starts"])
    warm = True
    for i, rgb in decode_frames(video):
        if warm:  # first calls initialise the runtime (XNNPACK, model load): not timed
            det.detect(rgb)
            det.detect(rgb)
            warm = False
        if i in starts:
            det.reset()
        t = time.perf_counter()
        dets = det.detect(rgb)
        tally.seconds += time.perf_counter() - t
        tally.frames += 1
        xyxy = np.asarray(dets.xyxy, dtype=np.float64).reshape(-1, 4)
        state = match_frame(truth["frames"][i], xyxy, args.iou, tally)
        if args.draw is not None and i in starts:
            draw(args.draw / f"{truth['canvas']}_{i:04d}.png", rgb, truth["frames"][i], xyxy, state)
    return tally


def draw(path: Path, rgb: np.ndarray, truth: list[list[float]], xyxy: np.ndarray, state: np.ndarray) -> None:
    """PNG of a frame: faces green (don't care grey), matched detections blue, false ones red."""
    import cv2

    img = np.ascontiguousarray(rgb[..., ::-1])
    for x1, y1, x2, y2, dc in truth:
        cv2.rectangle(img, (int(x1), int(y1)), (int(x2), int(y2)), (128, 128, 128) if dc else (0, 200, 0), 2)
    for (x1, y1, x2, y2), s in zip(xyxy, state):
        cv2.rectangle(img, (int(x1), int(y1)), (int(x2), int(y2)), (0, 0, 255) if s < 0 else (255, 0, 0), 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)


def run_negatives(det, videos: Path, negatives: dict[str, tuple[int, int | None]]) -> dict[str, dict]:
    """False faces on face-free material: every detection there is false."""
    out = {}
    for name, (start, stop) in negatives.items():
        det.reset()
        frames = false = with_any = 0
        for _, rgb in decode_frames(videos / name, start=start, stop=stop):
            n = len(det.detect(rgb))
            frames += 1
            false += n
            with_any += n > 0
        label = name if start == 0 and stop is None else f"{name}[{start}:{'' if stop is None else stop}]"
        out[label] = {"frames": frames, "false_faces": false, "per_frame": false / max(frames, 1),
                      "frames_with_false": with_any}
    return out


# ----------------------------------------------------------------------------- report
def bucket_label(k: int) -> str:
    """Printable name of bucket ``k`` (``len(BUCKETS)``: narrower than the smallest bucket)."""
    if k == len(BUCKETS):
        return f"<{BUCKETS[0][0]}"
    lo, hi = BUCKETS[k]
    return f"{lo}+" if hi is None else f"{lo}-{hi}"


def ratio(a: float, b: float) -> float | None:
    """a / b, None when b is 0."""
    return a / b if b else None


def big_recall(t: Tally) -> float | None:
    """Recall over the buckets of faces >= BIG_FACE px."""
    big = [k for k, (lo, _) in enumerate(BUCKETS) if lo >= BIG_FACE]
    return ratio(int(t.found[big].sum()), int(t.gt[big].sum()))


def summarize(t: Tally, match_iou: float) -> dict:
    """JSON-ready numbers of a tally."""
    buckets = [{"bucket": bucket_label(k), "faces": int(t.gt[k]), "found": int(t.found[k]),
                "recall": ratio(int(t.found[k]), int(t.gt[k])), "false_faces_of_this_width": int(t.false_by_width[k])}
               for k in range(len(BUCKETS))]
    return {"frames": t.frames, "match_iou": match_iou, "faces": int(t.gt.sum()), "found": int(t.found.sum()),
            "recall": ratio(int(t.found.sum()), int(t.gt.sum())), f"recall_ge{BIG_FACE}px": big_recall(t),
            "detections": t.detections, "false_faces": t.false_faces,
            "false_faces_narrower_than_24px": int(t.false_by_width[-1]),
            "false_faces_on_a_face": t.false_on_face,
            "false_pct": None if not t.detections else 100.0 * t.false_faces / t.detections,
            "dont_care_hits": t.dont_care_hits, "mean_iou": float(np.mean(t.ious)) if t.ious else None,
            "fps": ratio(t.frames, t.seconds), "buckets": buckets}


def fmt(v: float | None, spec: str) -> str:
    """Format a number, '-' for None."""
    return "-" if v is None else format(v, spec)


def format_table(title: str, s: dict) -> str:
    """The printed table of one canvas (or all)."""
    lines = [title, f"  {'face width':<12}{'faces':>7}{'found':>7}{'recall':>8}{'false*':>8}"]
    for b in s["buckets"]:
        lines.append(f"  {b['bucket'] + ' px':<12}{b['faces']:>7}{b['found']:>7}{fmt(b['recall'], '.3f'):>8}"
                     f"{b['false_faces_of_this_width']:>8}")
    lines.append(f"  {'< 24 px':<12}{'':>7}{'':>7}{'':>8}{s['false_faces_narrower_than_24px']:>8}")
    lines.append(f"  {'all':<12}{s['faces']:>7}{s['found']:>7}{fmt(s['recall'], '.3f'):>8}{s['false_faces']:>8}")
    lines.append(f"  recall >= {BIG_FACE} px: {fmt(s[f'recall_ge{BIG_FACE}px'], '.3f')}   false faces: "
                 f"{s['false_faces']} of {s['detections']} detections = {fmt(s['false_pct'], '.2f')} % "
                 f"({s['false_faces_on_a_face']} on a face, box off)")
    lines.append(f"  mean IoU of matches {fmt(s['mean_iou'], '.2f')}   {s['frames']} frames, "
                 f"detect {fmt(s['fps'], '.1f')} fps")
    lines.append(f"  (* false faces by their own box width; 'on a face': IoU {LOOSE_IOU} to {s['match_iou']} "
                 "with a face)")
    return "\n".join(lines)


def format_negatives(neg: dict[str, dict]) -> str:
    """The printed table of the face-free videos."""
    lines = ["face-free videos", f"  {'video':<24}{'frames':>7}{'false':>7}{'per frame':>11}{'frames w/ any':>15}"]
    for name, r in neg.items():
        lines.append(f"  {name:<24}{r['frames']:>7}{r['false_faces']:>7}{r['per_frame']:>11.3f}"
                     f"{r['frames_with_false']:>15}")
    return "\n".join(lines)


def meets_targets(s: dict) -> bool:
    """Whether a summary reaches the project's recall and false-face targets."""
    rec, fp = s[f"recall_ge{BIG_FACE}px"], s["false_pct"]
    return rec is not None and rec >= TARGET_RECALL and fp is not None and fp <= TARGET_FALSE_PCT


def summary_line(s: dict, neg: dict[str, dict] | None) -> str:
    """One line: recall of faces >= 40 px and false faces against the project's targets."""
    rec, fp = s[f"recall_ge{BIG_FACE}px"], s["false_pct"]
    ok = meets_targets(s)
    neg_txt = ""
    if neg:
        frames = sum(r["frames"] for r in neg.values())
        neg_txt = f" | face-free videos: {sum(r['false_faces'] for r in neg.values()) / max(frames, 1):.3f} false/frame"
    return (f"SUMMARY recall(faces >= {BIG_FACE} px) {fmt(rec, '.3f')} [target >= {TARGET_RECALL}] | "
            f"false faces {fmt(fp, '.2f')} % of detections [target <= {TARGET_FALSE_PCT} %]{neg_txt} | "
            f"{fmt(s['fps'], '.1f')} fps | {'MEETS' if ok else 'MISSES'} target")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    check_args(args)
    sources, negatives, provenance = load_annotations(args.annotations)
    check_videos(args.videos, [BACKGROUND_VIDEO, *sources, *([] if args.no_negatives else negatives)])
    det = make_detector(args)  # before the (slow, first-time) build: a bad option fails at once
    clips = build_clips(args, sources)
    from vidaffect.faces import FaceDetector

    setup = {"detector": args.detector, "min_confidence": args.min_confidence, "max_faces": args.max_faces,
             "landmarks": not args.no_landmarks, "detect_every": args.detect_every, "mesh_every": args.mesh_every,
             "extra": args.extra_kwargs, "iou": args.iou, "module": inspect.getfile(FaceDetector),
             "seed": args.seed, "clips_per_canvas": args.clips, "segments_per_clip": args.segments,
             "segment_frames": args.segment_frames, "ground_truth": str(args.annotations),
             "ground_truth_detector": provenance.get("detector"), "clips_dir": str(clips[args.canvases[0]][0].parent)}
    print(f"face_recall: FaceDetector(model={args.detector!r}, detect_every={args.detect_every}, "
          f"mesh_every={args.mesh_every}, min_confidence={args.min_confidence}, landmarks={not args.no_landmarks}"
          + "".join(f", {k}={v!r}" for k, v in args.extra_kwargs.items()) + f") from {setup['module']}")
    total, report = Tally(), {"setup": setup, "canvases": {}}
    for name in args.canvases:
        video, truth = clips[name]
        t = run_canvas(det, video, truth, args)
        total.add(t)
        report["canvases"][name] = summarize(t, args.iou)
        W, H = CANVASES[name]
        print("\n" + format_table(f"canvas {name} ({W}x{H}): {len(truth['segment_starts'])} segments",
                                  report["canvases"][name]), flush=True)
    report["overall"] = summarize(total, args.iou)
    if len(args.canvases) > 1:
        print("\n" + format_table(f"all canvases ({', '.join(args.canvases)})", report["overall"]))
    neg = None if args.no_negatives else run_negatives(det, args.videos, negatives)
    det.close()
    if neg is not None:
        report["negatives"] = neg
        print("\n" + format_negatives(neg))
    report["summary"] = summary_line(report["overall"], neg)
    report["targets"] = {f"recall_ge{BIG_FACE}px": TARGET_RECALL, "false_pct": TARGET_FALSE_PCT,
                         "met": meets_targets(report["overall"])}
    print("\n" + report["summary"])
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
