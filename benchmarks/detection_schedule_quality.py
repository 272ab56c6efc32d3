"""What detecting on fewer frames costs in results: each schedule against detect+mesh on every frame.

Usage::

    python benchmarks/detection_schedule_quality.py [--videos NAME ...] [--schedules 1:1 1:2 2:2 3:2 ...]

A schedule ``D:M`` runs BlazeFace on every D-th frame (optical flow carries the
faces in between) and the face mesh on every M-th detection frame.  For every
reference face (schedule ``1:1``) it matches the schedule's faces of the same
frame (Hungarian, IoU >= 0.5) and prints: face recall, extra faces per frame,
mean box IoU, agreement of the dominant emotion, mean absolute difference of
the class probabilities and of valence, and the analysed fps (not a clean
speed measurement: see ``pipeline_speed.py``).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from vidaffect.faces.detections import box_iou

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "videos"


def compare(ref, cand, classes) -> dict:
    """Match faces frame by frame; return the agreement measures."""
    ref = ref[ref.face_id >= 0]
    cand = cand[cand.face_id >= 0]
    by_frame = dict(tuple(cand.groupby("frame")))
    matched, ious, agree, pdiff, vdiff = 0, [], [], [], []
    for frame, r in ref.groupby("frame"):
        c = by_frame.get(frame)
        if c is None:
            continue
        iou = box_iou(r[["x1", "y1", "x2", "y2"]].to_numpy(), c[["x1", "y1", "x2", "y2"]].to_numpy())
        rows, cols = linear_sum_assignment(-iou)
        for i, j in zip(rows, cols):
            if iou[i, j] < 0.5:
                continue
            matched += 1
            ious.append(iou[i, j])
            agree.append(r.emotion.iloc[i] == c.emotion.iloc[j])
            pdiff.append(np.abs(r[list(classes)].iloc[i].to_numpy(float) - c[list(classes)].iloc[j].to_numpy(float)).mean())
            vdiff.append(abs(float(r.valence.iloc[i]) - float(c.valence.iloc[j])))
    n_frames = max(ref.frame.nunique(), 1)
    return {"recall": matched / max(len(ref), 1), "extra_per_frame": (len(cand) - matched) / n_frames,
            "iou": float(np.mean(ious)) if ious else float("nan"),
            "emotion_agree": float(np.mean(agree)) if agree else float("nan"),
            "prob_mad": float(np.mean(pdiff)) if pdiff else float("nan"),
            "valence_mad": float(np.mean(vdiff)) if vdiff else float("nan")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", nargs="+", default=["WolfgangLanger_Pexels.mp4", "multi_face.avi"])
    ap.add_argument("--schedules", nargs="+", default=["1:2", "2:2", "3:2", "3:3", "4:2"],
                    help="DETECT_EVERY:MESH_EVERY pairs compared with 1:1")
    ap.add_argument("--end", type=float, default=None, help="analyse only the first SECONDS of each video")
    args = ap.parse_args()
    from vidaffect.pipeline import Analyzer

    print(f"{'video':<28}{'schedule':>9}{'recall':>8}{'extra/fr':>9}{'IoU':>7}{'emotion=':>9}"
          f"{'prob MAD':>9}{'val MAD':>9}{'fps':>7}")
    for name in args.videos:
        path = Path(name) if Path(name).exists() else SHARED / name
        results = {}
        for sched in ["1:1", *args.schedules]:
            d, m = (int(v) for v in sched.split(":"))
            with Analyzer(detect_every=d, mesh_every=m, end=args.end) as an:
                t = time.perf_counter()
                res = an.analyze(path)
                fps = res.metadata["frames_analysed"] / (time.perf_counter() - t)
                classes = list(an.model.classes)
            results[sched] = res
            q = compare(results["1:1"].frames, res.frames, classes)
            print(f"{path.name:<28}{sched:>9}{q['recall']:>8.3f}{q['extra_per_frame']:>9.3f}{q['iou']:>7.3f}"
                  f"{q['emotion_agree']:>9.3f}{q['prob_mad']:>9.4f}{q['valence_mad']:>9.4f}{fps:>7.1f}", flush=True)


if __name__ == "__main__":
    main()
