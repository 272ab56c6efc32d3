"""Cost of person identity on the shared videos: a few best crops per track versus every face frame.

    python benchmarks/identity_cost.py [--fps 5] [--candidates 8] [--per-track 3]

Prints per video: tracks, face rows, candidate crops decoded, descriptors
computed, seconds spent (decode, quality, embedding), ms per descriptor, and
the estimated time to embed every face row instead.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

VIDEOS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "videos"
NAMES = ["multi_face.avi", "WolfgangLanger_Pexels.mp4", "single_face.mp4", "short_hamilton_clip.mp4"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fps", type=float, default=5.0)
    ap.add_argument("--candidates", type=int, default=8)
    ap.add_argument("--per-track", type=int, default=3)
    args = ap.parse_args()
    from vidaffect.identity.embedder import FaceEmbedder
    from vidaffect.identity.tracks import EmbedCost, embed_tracks, track_table

    emb = FaceEmbedder()
    print(f"{'video':<28}{'tracks':>7}{'rows':>6}{'cands':>6}{'emb':>5}{'track s':>8}{'decode s':>9}"
          f"{'qual s':>7}{'embed s':>8}{'ms/emb':>7}{'all rows s':>11}")
    for name in NAMES:
        path = VIDEOS / name
        if not path.is_file():
            print(f"{name:<28} absent")
            continue
        t0 = time.perf_counter()
        table = track_table(path, fps=args.fps)
        t_track = time.perf_counter() - t0
        cost = EmbedCost()
        embed_tracks(path, table, emb, candidates=args.candidates, per_track=args.per_track, cost=cost)
        ms = 1000 * cost.embed_s / max(cost.embedded, 1)
        print(f"{name:<28}{cost.tracks:>7}{len(table):>6}{cost.candidates:>6}{cost.embedded:>5}{t_track:>8.2f}"
              f"{cost.decode_s:>9.2f}{cost.quality_s:>7.2f}{cost.embed_s:>8.2f}{ms:>7.0f}{len(table) * ms / 1000:>11.1f}")


if __name__ == "__main__":
    main()
