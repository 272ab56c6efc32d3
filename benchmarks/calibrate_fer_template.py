"""Measure where our detector puts the 4 alignment points on FER2013 images.

Usage: python benchmarks/calibrate_fer_template.py FER_ROOT [--split val] [--n 1000]

Each 48x48 image is upscaled 4x and padded (FER crops are too tight for the
detector otherwise); the points are mapped back to fractions of the original
crop, and the median over all images where a face was found is printed: this
is ``TEMPLATES["fer"]`` in ``vidaffect/faces/align.py``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from vidaffect.faces import FaceDetector, face_points


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root")
    ap.add_argument("--split", default="val")
    ap.add_argument("--n", type=int, default=1000)
    args = ap.parse_args()
    files = sorted(Path(args.root, args.split).glob("*/*.jpg"))
    rng = np.random.default_rng(0)
    files = [files[i] for i in rng.choice(len(files), min(args.n, len(files)), replace=False)]
    det = FaceDetector("short", 0.5, 1, landmarks=True, video_mode=False)
    scale, pad = 4, 48
    pts_all, mesh_count = [], 0
    for f in files:
        g = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)
        big = cv2.resize(g, (48 * scale, 48 * scale), interpolation=cv2.INTER_CUBIC)
        big = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        d = det.detect(cv2.cvtColor(big, cv2.COLOR_GRAY2RGB))
        if len(d) != 1:
            continue
        mesh_count += int(d.has_mesh()[0])
        pts_all.append((face_points(d)[0] - pad) / (48 * scale))
    pts = np.median(np.stack(pts_all), 0)
    # symmetrise: mirror-average the eyes, centre nose and mouth horizontally
    eye_y = (pts[0, 1] + pts[1, 1]) / 2
    half = (pts[1, 0] - pts[0, 0]) / 2
    sym = np.array([[0.5 - half, eye_y], [0.5 + half, eye_y], [0.5, pts[2, 1]], [0.5, pts[3, 1]]])
    print(f"faces found in {len(pts_all)}/{len(files)} images ({mesh_count} with mesh)")
    print("median points (x, y as fractions):\n", np.round(pts, 4))
    print("symmetric template:\n", np.round(sym, 4))


if __name__ == "__main__":
    main()
