"""People benchmark: stable face tracks inside shots and the same person recognised across shots.

Usage::

    python benchmarks/people_tracking.py [--clips N] [--segments N] [--segment-frames N] [--seed N]
                                         [--option KEY=VALUE ...] [--no-multi-face] [--json OUT]

What it measures
    Synthetic multi-person clips with identity ground truth are built (once, then
    cached) from the shared single-person videos and their annotated boxes
    (``benchmarks/data/face_boxes.json``; the same sources as ``face_recall.py``).
    Four real people: the woman of WolfgangLanger_Pexels.mp4, the man of
    single_face.mp4 and face_noface.mov (one person in two videos), the performer
    of short_hamilton_clip.mp4 and the man of default.wmv.  Each clip is a series
    of shots separated by hard cuts; every shot shows 2-3 of the people on a real
    face-free background, each at a new random place and size (face width 48-150 px
    on 640x480), so people change size and position between shots and come back
    after shots without them.  In about half the shots one person leaves for
    0.4-1.6 s and comes back at the same place (occlusion / leaving and
    re-entering inside a shot).  Faces play their source frames forwards and
    backwards (ping-pong) so any shot length works.

    The clip is analysed by ``vidaffect.Analyzer`` with the settings under test
    (defaults unless ``--option``), and every result row is matched to the ground
    truth of its frame (Hungarian, IoU >= 0.4).  Reported:

    * IDF1 of ``person_id`` against the true person over the whole clip (the
      standard identity F1: one-to-one mapping of predicted to true ids that
      maximises agreeing rows), and of ``face_id`` against the true person
      (what tracking alone gets right; a cut the cut detector misses lets a
      face_id continue into the next shot, which is right when it is the same
      person);
    * ID switches: inside a shot, a true person's matched ``face_id`` changing;
    * fragments: ``face_id`` values per (person, shot) appearance (1.0 is ideal);
    * persons found (``person_id`` values with at least 10 matched rows) vs present;
    * mixed ids: ``person_id`` / ``face_id`` values whose rows hold more than 2
      rows of a second true person;
    * recall of the rows and the identity stage's own cost (metadata speed).

    ``--multi-face`` (default on) also analyses ``multi_face.avi`` (three people
    walking around for 23 s, no annotation) and reports its track and person
    counts, the project's target being <= 4 tracks and exactly 3 persons.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import face_recall as fr  # noqa: E402  (sibling benchmark: sources, rendering helpers)

PROG = "people_tracking.py"
BUILD_VERSION = 1
CANVAS = (640, 480)
FPS = 30
# the real people of the shared single-person videos (face_noface.mov is single_face.mp4's man)
PERSONS = {"WolfgangLanger_Pexels.mp4": "woman (WolfgangLanger)", "single_face.mp4": "man A (single_face)",
           "face_noface.mov": "man A (single_face)", "short_hamilton_clip.mp4": "performer (hamilton)",
           "default.wmv": "man C (default.wmv)"}
FACE_PX = (48.0, 150.0)
MATCH_IOU = 0.4
MIXED_ROWS = 2  # an id holding more than this many rows of a second person mixes two people
FOUND_ROWS = 10
DEFAULT_CACHE = fr.DEFAULT_CACHE.parent / "people_tracking"


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=2, metavar="N", help="clips to build and analyse (default: 2)")
    ap.add_argument("--segments", type=int, default=6, metavar="N", help="shots per clip (default: 6)")
    ap.add_argument("--segment-frames", type=int, default=90, metavar="N",
                    help="frames per shot at 30 fps (default: 90)")
    ap.add_argument("--seed", type=int, default=0, metavar="N", help="layout seed (default: 0)")
    ap.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                    help="vidaffect AnalyzeOptions field to set (repeatable), e.g. identity=false, detect_every=1")
    ap.add_argument("--no-multi-face", action="store_true", help="skip multi_face.avi")
    ap.add_argument("--old-identity", action="store_true",
                    help="for the previous release (PYTHONPATH=<old tree>/src): add person_id with its dlib-based "
                         "identity stage (vidaffect.identity.persons.assign_persons), as 'analyze --identity' did")
    ap.add_argument("--json", type=Path, metavar="OUT", help="also write the numbers to this JSON file")
    ap.add_argument("--videos", type=Path, default=fr.DEFAULT_VIDEOS, metavar="DIR",
                    help=f"folder with the shared videos (default: {fr.DEFAULT_VIDEOS})")
    ap.add_argument("--annotations", type=Path, default=fr.DEFAULT_ANNOTATIONS, metavar="FILE",
                    help="annotated boxes (default: benchmarks/data/face_boxes.json)")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE, metavar="DIR",
                    help=f"where the clips are built and kept (default: {DEFAULT_CACHE})")
    return ap


# ----------------------------------------------------------------------------- clips
def plan_clip(rng: np.random.Generator, sources: dict[str, fr.Source], args: argparse.Namespace) -> list[dict]:
    """Shots of one clip: which people, where, how big, which source frames, and who leaves when."""
    by_person: dict[str, list[str]] = {}
    for name in sources:
        by_person.setdefault(PERSONS[name], []).append(name)
    people = sorted(by_person)
    shots = []
    for _ in range(args.segments):
        chosen = rng.choice(len(people), size=int(rng.integers(2, 4)), replace=False)
        slots, sizes = [], []
        for k in chosen:
            name = by_person[people[k]][int(rng.integers(len(by_person[people[k]])))]
            src = sources[name]
            face_px = float(np.exp(rng.uniform(*np.log(FACE_PX))))
            face_px = min(face_px, src.face_width * fr.MAX_UPSCALE)
            a, b = src.runs[int(rng.integers(len(src.runs)))]
            start = int(rng.integers(a, b))
            positions = [a + fr.bounce(start - a + i, b - a) for i in range(args.segment_frames)]
            scale = face_px / float(src.boxes[positions[0], 2] - src.boxes[positions[0], 0])
            window = fr.face_window(src, positions[0], scale, CANVAS)
            size = (max(1, int(round((window[2] - window[0]) * scale))), max(1, int(round((window[3] - window[1]) * scale))))
            slots.append({"source": name, "person": people[k], "positions": positions, "window": window,
                          "face_px": face_px})
            sizes.append(size)
        placed = fr.place(sizes, CANVAS, rng)
        slots = [dict(s, tile=list(p)) for s, p in zip(slots, placed) if p is not None]
        away = None
        if len(slots) and rng.uniform() < 0.5:  # one person leaves for a while and comes back
            gap = int(rng.uniform(0.4, 1.6) * FPS)
            start = int(rng.integers(10, max(11, args.segment_frames - gap - 10)))
            away = [int(rng.integers(len(slots))), start, start + gap]
        shots.append({"background_start": int(rng.integers(10_000)), "crop_x": float(rng.uniform()),
                      "flip": bool(rng.integers(2)), "slots": slots, "away": away})
    return shots


def render_clip(shots: list[dict], sources: dict[str, fr.Source], frames: dict, backgrounds: list[np.ndarray],
                out: Path) -> list[list[list[Any]]]:
    """Encode a clip; per frame the true faces ``[x1, y1, x2, y2, dont_care, person, shot]``."""
    truth = []
    tmp = out.with_suffix(".part.mp4")
    with fr.h264_writer(tmp, CANVAS, FPS) as write:
        for s, shot in enumerate(shots):
            for k in range(len(shot["slots"][0]["positions"]) if shot["slots"] else 0):
                bg = backgrounds[fr.bounce(shot["background_start"] + k, len(backgrounds))]
                image = fr.fit_background(bg, CANVAS, shot["crop_x"], shot["flip"]).copy()
                boxes = []
                for j, slot in enumerate(shot["slots"]):
                    if shot["away"] and shot["away"][0] == j and shot["away"][1] <= k < shot["away"][2]:
                        continue
                    src = sources[slot["source"]]
                    pos = slot["positions"][k]
                    sl = fr.Slot(slot["source"], slot["positions"], tuple(slot["window"]), tuple(slot["tile"]),
                                 slot["face_px"])
                    fr.paste(image, fr.slot_image(frames[slot["source"], int(src.frames[pos])], sl), sl.tile)
                    boxes.append(fr.slot_truth(src, sl, pos) + [slot["person"], s])
                truth.append(boxes)
                write(image)
    os.replace(tmp, out)
    return truth


def build(args: argparse.Namespace) -> list[tuple[Path, list]]:
    """(video, truth) per clip, built where not cached."""
    sources, _, _ = fr.load_annotations(args.annotations)
    unknown = set(sources) - set(PERSONS)
    if unknown:
        fr.fail(f"no person known for source(s) {sorted(unknown)}; add them to PERSONS")
    fr.check_videos(args.videos, [*sources, fr.BACKGROUND_VIDEO])
    h = hashlib.sha256(args.annotations.read_bytes())
    h.update(json.dumps([BUILD_VERSION, args.seed, args.segments, args.segment_frames, CANVAS, FACE_PX,
                         sorted(PERSONS.items())]).encode())
    folder = args.cache / f"v{BUILD_VERSION}-{h.hexdigest()[:16]}"
    out = []
    todo = [c for c in range(args.clips) if not (folder / f"clip{c}.json").is_file()]
    if todo:
        print(f"building {len(todo)} clip(s) in {folder} ...", file=sys.stderr, flush=True)
        folder.mkdir(parents=True, exist_ok=True)
        backgrounds = [f for _, f in fr.decode_frames(args.videos / fr.BACKGROUND_VIDEO)]
        plans = {c: plan_clip(np.random.default_rng([args.seed, c]), sources, args) for c in todo}
        wanted: dict[str, set[int]] = {}
        for shots in plans.values():
            for shot in shots:
                for slot in shot["slots"]:
                    wanted.setdefault(slot["source"], set()).update(
                        int(i) for i in sources[slot["source"]].frames[slot["positions"]])
        frames = {(name, i): f for name, idx in wanted.items() for i, f in fr.decode_frames(args.videos / name, idx)}
        for c in todo:
            truth = render_clip(plans[c], sources, frames, backgrounds, folder / f"clip{c}.mp4")
            (folder / f"clip{c}.json.part").write_text(json.dumps(truth, separators=(",", ":")))
            os.replace(folder / f"clip{c}.json.part", folder / f"clip{c}.json")
    for c in range(args.clips):
        out.append((folder / f"clip{c}.mp4", json.loads((folder / f"clip{c}.json").read_text())))
    return out


# ----------------------------------------------------------------------------- scoring
def idf1(pairs: list[tuple[Any, Any]], n_true: int, n_pred: int) -> float:
    """Identity F1 from matched (true id, predicted id) rows, ``n_true`` true rows and ``n_pred`` predicted rows."""
    from scipy.optimize import linear_sum_assignment

    if not pairs:
        return 0.0
    t_ids = sorted({t for t, _ in pairs}, key=str)
    p_ids = sorted({p for _, p in pairs}, key=str)
    ti, pi = {t: i for i, t in enumerate(t_ids)}, {p: i for i, p in enumerate(p_ids)}
    m = np.zeros((len(t_ids), len(p_ids)))
    for t, p in pairs:
        m[ti[t], pi[p]] += 1
    r, c = linear_sum_assignment(-m)
    idtp = float(m[r, c].sum())
    return 2 * idtp / (n_true + n_pred) if n_true + n_pred else 0.0


def mixed(pairs: list[tuple[Any, Any]]) -> int:
    """Predicted ids holding more than MIXED_ROWS rows of a second true id."""
    counts: dict[Any, dict[Any, int]] = {}
    for t, p in pairs:
        counts.setdefault(p, {}).setdefault(t, 0)
        counts[p][t] += 1
    return sum(1 for c in counts.values() if len(c) > 1 and sorted(c.values())[-2] > MIXED_ROWS)


def score(frames, truth: list) -> dict[str, Any]:
    """Match result rows to the truth and compute the identity figures of one clip."""
    from scipy.optimize import linear_sum_assignment

    from vidaffect.faces import box_iou

    faces = frames[frames["face_id"] >= 0]
    by_frame = {f: g for f, g in faces.groupby("frame")}
    person_pairs, track_pairs = [], []
    n_true = n_pred = 0
    last_track: dict[tuple[str, int], int] = {}
    switches = 0
    frags: dict[tuple[str, int], set] = {}
    for f, gt in enumerate(truth):
        gt = [g for g in gt if not g[4]]
        n_true += len(gt)
        rows = by_frame.get(f)
        if rows is None:
            continue
        n_pred += len(rows)
        if not gt:
            continue
        iou = box_iou(rows[["x1", "y1", "x2", "y2"]].to_numpy(np.float32), np.array([g[:4] for g in gt], np.float32))
        r_idx, c_idx = linear_sum_assignment(-iou)
        for r, c in zip(r_idx, c_idx):
            if iou[r, c] < MATCH_IOU:
                continue
            person, shot = gt[c][5], gt[c][6]
            fid = int(rows["face_id"].iloc[r])
            pid = int(rows["person_id"].iloc[r]) if "person_id" in rows else fid
            person_pairs.append((person, pid))
            track_pairs.append((person, fid))
            key = (person, shot)
            if key in last_track and last_track[key] != fid:
                switches += 1
            last_track[key] = fid
            frags.setdefault(key, set()).add(fid)
    found = {}
    for _, p in person_pairs:
        found[p] = found.get(p, 0) + 1
    return {"true_rows": n_true, "result_rows": n_pred, "matched_rows": len(person_pairs),
            "person_idf1": idf1(person_pairs, n_true, n_pred), "track_idf1": idf1(track_pairs, n_true, n_pred),
            "id_switches": switches, "appearances": len(frags),
            "fragments_per_appearance": float(np.mean([len(v) for v in frags.values()])) if frags else 0.0,
            "persons_present": len({t for t, _ in person_pairs} | {g[5] for fr_ in truth for g in fr_ if not g[4]}),
            "persons_found": sum(1 for v in found.values() if v >= FOUND_ROWS),
            "mixed_person_ids": mixed(person_pairs), "mixed_face_ids": mixed(track_pairs),
            "person_table": table(person_pairs), "face_table": table(track_pairs)}


def table(pairs: list[tuple[Any, Any]]) -> dict[str, dict[str, int]]:
    """``{predicted id: {true person: rows}}`` (for reading what went wrong)."""
    out: dict[str, dict[str, int]] = {}
    for t, p in pairs:
        d = out.setdefault(str(p), {})
        d[t] = d.get(t, 0) + 1
    return out


def analyze(video: Path, options: dict[str, Any], old_identity: bool = False):
    """(results, confirmed tracks or None when the code under test has no ``last_tracks``)."""
    from vidaffect.pipeline.analyzer import Analyzer

    with Analyzer(**options) as an:
        res = an.analyze(video)
        tracks = getattr(an, "last_tracks", None)
    if old_identity:
        from vidaffect.identity.embedder import FaceEmbedder
        from vidaffect.identity.persons import add_person_columns, assign_persons

        res.frames = add_person_columns(res.frames, assign_persons(video, res.frames, FaceEmbedder()))
    return res, tracks


def track_distances(tracks, face_table: dict[str, dict[str, int]]) -> dict[str, list[float]]:
    """Cosine distances between the mean embeddings of tracks of the same true person and of different ones
    (each track's person: the one most of its matched rows show) -- what the linking threshold must separate."""
    owner = {int(fid): max(c, key=c.get) for fid, c in face_table.items()}
    embs = [(owner[t.face_id], t.embedding) for t in tracks or [] if t.embedding is not None and t.face_id in owner]
    out: dict[str, list[float]] = {"same": [], "different": []}
    for i in range(len(embs)):
        for j in range(i + 1, len(embs)):
            d = float(1.0 - embs[i][1] @ embs[j][1])
            out["same" if embs[i][0] == embs[j][0] else "different"].append(round(d, 4))
    return out


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        options = fr.parse_extra(args.option)
    except ValueError as e:
        fr.fail(str(e).replace("--extra", "--option"))
    if not args.videos.is_dir():
        fr.fail(f"shared videos not found: looked in {args.videos} (pass --videos DIR)")
    clips = build(args)
    rows = []
    for video, truth in clips:
        t = time.perf_counter()
        res, tracks = analyze(video, options, args.old_identity)
        s = score(res.frames, truth)
        s["track_distances"] = track_distances(tracks, s["face_table"])
        s["clip"] = video.name
        s["seconds"] = round(time.perf_counter() - t, 1)
        s["speed_ms_per_frame"] = res.speed
        s["frames"] = res.metadata["frames_analysed"]
        s["embeddings"] = (res.metadata.get("tracking") or {}).get("embeddings", 0)
        rows.append(s)
    multi = None
    if not args.no_multi_face:
        t = time.perf_counter()
        res, _ = analyze(args.videos / "multi_face.avi", options, args.old_identity)
        faces = res.faces
        multi = {"tracks": int(faces["face_id"].nunique()),
                 "persons": int(faces["person_id"].nunique()) if "person_id" in faces else None,
                 "track_lengths": sorted(faces.groupby("face_id").size().tolist(), reverse=True),
                 "seconds": round(time.perf_counter() - t, 1), "speed_ms_per_frame": res.speed}
    print(f"options: {options or 'defaults'}")
    head = ["clip", "person_idf1", "track_idf1", "id_switches", "fragments_per_appearance", "persons_found",
            "persons_present", "mixed_person_ids", "mixed_face_ids", "matched_rows", "true_rows", "result_rows"]
    print(" | ".join(head))
    for s in rows:
        print(" | ".join(f"{s[k]:.4f}" if isinstance(s[k], float) else str(s[k]) for k in head))
    for s in rows:
        sp = s["speed_ms_per_frame"]
        per_emb = sp.get("embed", 0) * s["frames"] / s["embeddings"] if s["embeddings"] else float("nan")
        print(f"{s['clip']}: {s['seconds']} s; ms/frame total {sp.get('total')}, embed {sp.get('embed', 0)} "
              f"({s['embeddings']} faces embedded, {per_emb:.1f} ms each incl. chip), track {sp.get('track')}, "
              f"link {sp.get('link', 0)} (ms/frame; link runs once per video)")
    same = [d for s in rows for d in s["track_distances"]["same"]]
    diff = [d for s in rows for d in s["track_distances"]["different"]]
    if same or diff:
        print(f"track mean embeddings, cosine distance: same person {len(same)} pairs, max "
              f"{max(same) if same else float('nan'):.3f}; different people {len(diff)} pairs, min "
              f"{min(diff) if diff else float('nan'):.3f}")
    if multi:
        print(f"multi_face.avi: {multi['tracks']} tracks {multi['track_lengths']}, {multi['persons']} persons, "
              f"{multi['seconds']} s; ms/frame total {multi['speed_ms_per_frame'].get('total')}, "
              f"embed {multi['speed_ms_per_frame'].get('embed', 0)}")
    ok = all(s["person_idf1"] >= 0.95 and s["persons_found"] == s["persons_present"] and s["mixed_person_ids"] == 0
             for s in rows) and (multi is None or (multi["tracks"] <= 4 and multi["persons"] == 3))
    print(f"SUMMARY: targets (person IDF1 >= 0.95, persons found == present, no mixed ids; multi_face <= 4 tracks, "
          f"3 persons) {'met' if ok else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps({"options": options, "clips": rows, "multi_face": multi}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
