"""``vidaffect micro spot``: micro-expression spotting (and recognition) on an ordinary video.

Faces are detected and tracked by the main pipeline
(:func:`vidaffect.pipeline.iter_tracked_faces`) and cut with
:func:`vidaffect.faces.align_faces` (``aligned`` template, grayscale).  Each
face track is split where it has gaps, and every segment is spotted with
:mod:`vidaffect.micro.spot`.  With a DSSN/SSSN checkpoint each interval is
classified from its onset and apex crops.  Writes ``intervals.csv``,
``intervals.json``, ``motion.csv`` (the per-frame signal) and ``motion.png``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from vidaffect.errors import VidaffectError
from vidaffect.micro.spot import SIGNALS, Spotting, classify_intervals, region_motion, spot_intervals
from vidaffect.utils.atomic import atomic_path, atomic_write_text

INTERVAL_COLUMNS = [
    "face_id", "onset_frame", "apex_frame", "offset_frame", "onset_s", "apex_s", "offset_s",
    "duration_s", "score", "peak", "region", "class",
]  # fmt: skip


@dataclass
class SpotOptions:
    fps: float | None = None  # sample the video at this rate (None: every frame)
    detector: str = "short"
    crop_size: int = 128  # aligned grayscale crops kept per face and frame
    flow_size: int = 64  # crops are resized to this for the spotting flow
    flow: str = "farneback"
    signal: str = "flow"
    baseline_s: float = 2.0
    max_duration_s: float = 0.5
    min_duration_s: float = 0.06
    threshold: float = 4.0  # robust z-score of the peak
    min_motion: float = 0.05  # minimum peak height above the median (pixels at flow_size / strain)
    max_gap_frames: int = 2  # a track segment ends after this many missing sampled frames
    min_segment_s: float = 1.0  # shorter face segments are not spotted
    checkpoint: str | None = None


@dataclass
class TrackSegment:
    face_id: int
    frames: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    crops: list[np.ndarray] = field(default_factory=list)


def collect_segments(video: str | Path, opts: SpotOptions, progress: bool = True) -> tuple[list[TrackSegment], float]:
    """Aligned grayscale crops of every face track, split at gaps; returns the segments and the frame rate."""
    from vidaffect.faces import align_faces
    from vidaffect.models.base import CropSpec
    from vidaffect.pipeline import iter_tracked_faces
    from vidaffect.video import open_video

    reader = open_video(video, fps=opts.fps)
    rate = float(opts.fps or reader.info.fps or 30.0)
    spec = CropSpec(size=opts.crop_size, color="gray", kind="aligned")
    open_segs: dict[int, TrackSegment] = {}
    last_seen: dict[int, int] = {}
    done: list[TrackSegment] = []
    n = 0
    total = int(reader.info.duration_s * rate) if reader.info.duration_s else None
    for frame, dets in tqdm(iter_tracked_faces(reader, detector=opts.detector, multi_face=True), total=total,
                            desc="faces", unit="frame", disable=not progress):  # fmt: skip
        if len(dets):
            crops = align_faces(frame.image, dets, spec)
            for fid, crop in zip(dets.face_ids.tolist(), crops):
                seg = open_segs.get(fid)
                if seg is None or n - last_seen[fid] > opts.max_gap_frames + 1:
                    if seg is not None:
                        done.append(seg)
                    seg = open_segs[fid] = TrackSegment(fid)
                seg.frames.append(frame.index)
                seg.times.append(frame.time_s)
                seg.crops.append(crop)
                last_seen[fid] = n
        n += 1
    done += open_segs.values()
    return [s for s in done if len(s.times) > 1 and s.times[-1] - s.times[0] >= opts.min_segment_s], rate


def spot_segment(seg: TrackSegment, rate: float, opts: SpotOptions) -> Spotting:
    """Spot one face segment (region motion + intervals)."""
    baseline_frames = max(3, int(round(opts.baseline_s * rate)))
    motion = region_motion(seg.crops, baseline_frames, method=opts.flow, signal=opts.signal, size=opts.flow_size)
    return spot_intervals(motion, np.asarray(seg.times), baseline_s=opts.baseline_s, max_duration_s=opts.max_duration_s,
                          min_duration_s=opts.min_duration_s, threshold_z=opts.threshold, min_motion=opts.min_motion)  # fmt: skip


def intervals_table(segments: list[TrackSegment], spots: list[Spotting], probs: list[np.ndarray], classes: list[str]) -> pd.DataFrame:
    rows = []
    for seg, sp, pr in zip(segments, spots, probs):
        for i, iv in enumerate(sp.intervals):
            row: dict[str, Any] = {
                "face_id": seg.face_id,
                "onset_frame": seg.frames[iv.onset], "apex_frame": seg.frames[iv.apex], "offset_frame": seg.frames[iv.offset],
                "onset_s": iv.onset_s, "apex_s": iv.apex_s, "offset_s": iv.offset_s,
                "duration_s": iv.offset_s - iv.onset_s, "score": iv.score, "peak": iv.peak, "region": iv.region,
                "class": classes[int(pr[i].argmax())] if len(classes) else "",
            }  # fmt: skip
            for j, c in enumerate(classes):
                row[f"p_{c}"] = float(pr[i, j])
            rows.append(row)
    return pd.DataFrame(rows, columns=INTERVAL_COLUMNS + [f"p_{c}" for c in classes])


def plot_motion(segments: list[TrackSegment], spots: list[Spotting], table: pd.DataFrame, path: Path, title: str) -> Path:
    """One panel per face: motion residual, threshold and the spotted intervals."""
    from matplotlib.figure import Figure  # object API: the caller's matplotlib backend is left alone

    faces = sorted({s.face_id for s in segments})
    fig = Figure(figsize=(11, 2.6 * max(1, len(faces))))
    axes = fig.subplots(max(1, len(faces)), 1, squeeze=False, sharex=True)
    for ax, fid in zip(axes[:, 0], faces):
        for seg, sp in zip(segments, spots):
            if seg.face_id != fid:
                continue
            t = np.asarray(seg.times)
            ax.plot(t, sp.residual, color="tab:blue", lw=1, label="motion above baseline")
            ax.hlines(sp.threshold, t[0], t[-1], colors="tab:red", linestyles="--", lw=0.8, label="threshold")
        for _, r in table[table["face_id"] == fid].iterrows():
            ax.axvspan(r["onset_s"], r["offset_s"], color="tab:orange", alpha=0.3)
            ax.axvline(r["apex_s"], color="tab:orange", lw=1)
            ax.annotate(str(r["class"] or f"{r['score']:.1f}"), (r["apex_s"], ax.get_ylim()[1]), fontsize=8,
                        ha="center", va="top")  # fmt: skip
        handles, labels = ax.get_legend_handles_labels()
        uniq = dict(zip(labels, handles))
        ax.legend(uniq.values(), uniq.keys(), loc="upper right", fontsize=7)
        ax.set_ylabel(f"face {fid}")
    if not faces:
        axes[0, 0].text(0.5, 0.5, "no face track long enough to spot", ha="center", va="center", transform=axes[0, 0].transAxes)
    axes[-1, 0].set_xlabel("time (s)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    return path


def spot_video(video: str | Path, out_dir: str | Path, opts: SpotOptions = SpotOptions(), progress: bool = True) -> pd.DataFrame:
    """Spot (and classify) micro-expression intervals in ``video``; write the outputs to ``out_dir``."""
    if opts.signal not in SIGNALS:
        raise VidaffectError(f"unknown signal {opts.signal!r} (choose from {', '.join(SIGNALS)})")
    net, cfg = None, None
    if opts.checkpoint:
        from vidaffect.micro.evaluate import load_micro_checkpoint

        net, cfg = load_micro_checkpoint(opts.checkpoint)
    segments, rate = collect_segments(video, opts, progress)
    spots = [spot_segment(s, rate, opts) for s in tqdm(segments, desc="spotting", unit="track", disable=not progress)]
    classes = list(cfg["classes"]) if cfg else []
    probs = [
        classify_intervals(seg.crops, sp.intervals, net, cfg) if net is not None else np.zeros((len(sp.intervals), 0))
        for seg, sp in zip(segments, spots)
    ]
    table = intervals_table(segments, spots, probs, classes)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / "intervals.csv") as tmp:
        table.to_csv(tmp, index=False)
    meta = {"video": str(video), "fps": rate, "options": opts.__dict__, "intervals": json.loads(table.to_json(orient="records"))}
    atomic_write_text(out_dir / "intervals.json", json.dumps(meta, indent=2))
    motion = pd.DataFrame(
        [
            {"face_id": seg.face_id, "frame": f, "time_s": t, "motion": r, "baseline": b, "threshold": sp.threshold}
            for seg, sp in zip(segments, spots)
            for f, t, r, b in zip(seg.frames, seg.times, sp.residual, sp.baseline)
        ],
        columns=["face_id", "frame", "time_s", "motion", "baseline", "threshold"],
    )
    with atomic_path(out_dir / "motion.csv") as tmp:
        motion.to_csv(tmp, index=False)
    plot_motion(segments, spots, table, out_dir / "motion.png", f"{Path(video).name}: {len(table)} candidate interval(s)")
    return table
