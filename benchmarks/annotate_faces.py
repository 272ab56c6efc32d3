"""Make ``benchmarks/data/face_boxes.json``: the ground-truth face box of single-face source frames.

Usage (once, with the OLD MediaPipe-runtime detector, never the detector under test)::

    git worktree add /tmp/oldtree <commit with the MediaPipe FaceDetector>
    PYTHONPATH=/tmp/oldtree/src /tmp/mpvenv/bin/python benchmarks/annotate_faces.py

For each source video it looks at every ``--step``-th frame of the first
``--max-frames`` frames (original resolution) and keeps a frame only when

* BlazeFace short range (``min_confidence`` 0.5, still-image mode, face mesh on)
  finds exactly one face, with score >= ``--min-score`` (0.8) and a fitted mesh;
* BlazeFace full range (``min_confidence`` 0.5) finds no other face
  (every full-range box overlaps the kept one, IoU >= 0.3), so that no second,
  unannotated face comes along when the benchmark crops around the face;
* the box lies inside the frame (BlazeFace boxes may stick out at the edges).

The stored box is the short-range box in source pixels.  ``face_recall.py``
builds its synthetic multi-person clips from these frames.  The file also
records the face-free frame ranges used as negative material and where every
number came from (detector module, MediaPipe version, commit, thresholds).
"""
from __future__ import annotations

import argparse
import datetime as dt
import inspect
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VIDEOS = ROOT.parent / "shared" / "data" / "videos"
DEFAULT_OUT = ROOT / "benchmarks" / "data" / "face_boxes.json"

# Single-face sources and the frame range (start, stop) that holds a real face.
# face_noface.mov: face 0-71, frame 72 is black, an animated film from 73 (hard cut found by
# frame differences and checked by eye).  noface_face.mov is the same footage in the other
# order (frames match to within encoding noise), so it is not used twice.
SOURCES: dict[str, tuple[int, int | None]] = {
    "WolfgangLanger_Pexels.mp4": (0, None),
    "single_face.mp4": (0, None),
    "short_hamilton_clip.mp4": (0, None),  # stage/audience shots with 0 or 2+ faces are filtered out
    "default.wmv": (0, None),
    "face_noface.mov": (0, 72),
}
# Face-free material (frame ranges, stop exclusive; None = to the end) for the false-face count.
NEGATIVES: dict[str, tuple[int, int | None]] = {
    "no_face.mp4": (0, None),
    "face_noface.mov": (73, None),  # the animated half (Caminandes), after the black frame 72
}
OTHER_FACE_IOU = 0.3
EDGE_TOLERANCE = 0.03  # a box may stick out of the frame by this fraction of its size (then clipped)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=Path, default=DEFAULT_VIDEOS,
                    help=f"folder with the shared videos (default: {DEFAULT_VIDEOS})")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON to write (default: {DEFAULT_OUT})")
    ap.add_argument("--step", type=int, default=2, help="annotate every STEP-th frame (default: 2)")
    ap.add_argument("--max-frames", type=int, default=300,
                    help="look at the first N frames of each video (default: 300)")
    ap.add_argument("--min-score", type=float, default=0.8, help="short-range score a kept face needs (default: 0.8)")
    return ap.parse_args(argv)


def git_commit(path: Path) -> str:
    """The commit of the git tree holding ``path`` ('unknown' outside git), '+dirty' if it has changes."""
    try:
        head = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(path), "status", "--porcelain", "--", "."],
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def iter_frames(path: Path, start: int, stop: int, step: int):
    """Yield ``(index, rgb)`` for frames ``start, start+step, ... < stop``."""
    import av

    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i >= stop:
                break
            if i >= start and (i - start) % step == 0:
                yield i, frame.to_ndarray(format="rgb24")


def keep_box(short, full, shape: tuple[int, int], min_score: float) -> list[float] | None:
    """``[x1, y1, x2, y2, score]`` to store, or None when the frame is not a clear single-face frame."""
    from vidaffect.faces import box_iou

    if len(short) != 1 or float(short.scores[0]) < min_score or not bool(short.has_mesh()[0]):
        return None
    box = short.xyxy[0].astype(np.float64)
    if len(full) and (box_iou(full.xyxy, box[None]) < OTHER_FACE_IOU).any():
        return None
    h, w = shape
    tol = EDGE_TOLERANCE * (box[2] - box[0])
    if box[0] < -tol or box[1] < -tol or box[2] > w + tol or box[3] > h + tol:
        return None
    box = np.clip(box, 0, [w, h, w, h])
    return [round(float(v), 1) for v in box] + [round(float(short.scores[0]), 3)]


def annotate_video(path: Path, start: int, stop: int | None, args: argparse.Namespace, short, full) -> dict:
    """Annotate one source video; returns its JSON entry."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
    stop = min(stop if stop is not None else args.max_frames, args.max_frames)
    frames, looked = [], 0
    short.reset()
    full.reset()
    for i, rgb in iter_frames(path, start, stop, args.step):
        looked += 1
        row = keep_box(short.detect(rgb), full.detect(rgb), rgb.shape[:2], args.min_score)
        if row is not None:
            frames.append([i, *row])
    widths = [f[3] - f[1] for f in frames]
    print(f"{path.name:<28} looked at {looked:>3} frames, kept {len(frames):>3}"
          + (f"  face width {min(widths):.0f}-{max(widths):.0f} px" if widths else ""))
    return {"width": width, "height": height, "looked_at": looked, "frames": frames}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    missing = [n for n in {**SOURCES, **NEGATIVES} if not (args.videos / n).is_file()]
    if missing:
        sys.exit(f"annotate_faces.py: error: shared videos missing in {args.videos}: {', '.join(missing)}")
    import mediapipe

    from vidaffect.faces import FaceDetector

    short = FaceDetector(model="short", min_confidence=0.5, max_faces=20, landmarks=True, video_mode=False)
    full = FaceDetector(model="full", min_confidence=0.5, max_faces=20, landmarks=False, video_mode=False)
    module = Path(inspect.getfile(FaceDetector))
    videos = {name: annotate_video(args.videos / name, a, b, args, short, full) for name, (a, b) in SOURCES.items()}
    short.close()
    full.close()
    doc = {
        "description": "Ground-truth face boxes (x1, y1, x2, y2 in source pixels) of single-face frames of "
                       "the shared videos, for benchmarks/face_recall.py. frames: [frame index, x1, y1, x2, y2, "
                       "short-range score].",
        "provenance": {
            "script": "benchmarks/annotate_faces.py",
            "created": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "detector": "vidaffect.faces.FaceDetector, MediaPipe legacy solutions runtime (BlazeFace + face mesh)",
            "detector_module": str(module),
            "detector_commit": git_commit(module.parent),
            "mediapipe": mediapipe.__version__,
            "box_from": "BlazeFace short range (model='short', min_confidence=0.5, landmarks=True, "
                        "video_mode=False), original resolution",
            "kept_if": f"exactly one short-range face with score >= {args.min_score} and a fitted face mesh; "
                       f"no other full-range face (model='full', min_confidence=0.5; IoU < {OTHER_FACE_IOU} "
                       f"with the kept box); box inside the frame (tolerance {EDGE_TOLERANCE} of its width, "
                       "then clipped)",
            "frames_looked_at": f"frames start, start+{args.step}, ... below min(range stop, {args.max_frames})",
            "not_used": "noface_face.mov (the same footage as face_noface.mov in the other order); "
                        "multi_face.avi (several people, faces enter and leave: not single-face)",
            "negatives": "face-free frame ranges, set by hand: face_noface.mov has its face in 0-71, a black "
                         "frame 72 and an animated film from 73 (hard cut found by frame differences, checked by eye)",
        },
        "sources": {name: {"range": list(r), **videos[name]} for name, r in SOURCES.items()},
        "negatives": {name: {"range": list(r)} for name, r in NEGATIVES.items()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(doc, indent=1)
    # one frame per line keeps the file small and diff-friendly
    text = _compact_rows(text)
    args.out.write_text(text + "\n")
    print(f"wrote {args.out} ({len(text) / 1024:.1f} KB, {sum(len(v['frames']) for v in videos.values())} frames)")
    return 0


def _compact_rows(text: str) -> str:
    """Put each innermost number list of the JSON text on one line."""
    import re

    def one_line(m: re.Match) -> str:
        return "[" + re.sub(r"\s+", " ", m.group(1)).replace(", ", ",") + "]"

    return re.sub(r"\[\s*([-0-9.,\snul]+?)\s*\]", one_line, text)


if __name__ == "__main__":
    raise SystemExit(main())
