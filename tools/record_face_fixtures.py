#!/usr/bin/env python3
"""Developer tool: record the face stage's parity fixtures (``tests/fixtures/faces/``) from MediaPipe itself.

The tests in ``tests/faces/`` check vidaffect's own face stage (LiteRT and
PyTorch runtimes, BlazeFace, the face mesh) against references recorded here
once, so they run anywhere: no ``mediapipe`` package and no shared videos
needed at test time.  This tool writes:

* ``<network>.npz`` for each shipped network (``face_detection_short_range``,
  ``face_detection_full_range_sparse``, ``face_landmark``): a few real input
  tensors and LiteRT's raw outputs on exactly those inputs.  Inputs are made
  from real frames of the shared videos with vidaffect's own pre-processing
  (:func:`vidaffect.faces.roi.warp_roi`: the whole frame letterboxed for the
  detectors, a face region from a detection for the mesh) and stored as the
  uint8 patch the warp produces, which is lossless: the float32 tensor is
  ``patch * (hi - lo) / 255 + lo`` computed as ``warp_roi`` does (keys:
  ``patches`` uint8 (N, S, S, 3), ``value_range`` (2,), ``output_0`` and
  ``output_1`` float32 with the leading N axis, in the interpreter's output
  order).  The outputs come from LiteRT's interpreter on the ``.tflite`` file
  inside the mediapipe wheel, which must be byte-identical to the shipped asset.
* ``<frame>.png``: a few real frames (or a crop of one around its faces; never
  rescaled), lossless.
* ``reference.json``: provenance (videos, frame indices, crops, regions,
  package versions, model sha256) and mediapipe's outputs on exactly the
  pixels of each PNG: ``FaceDetection(model_selection=0 and 1).process``
  (boxes xyxy, 6 keypoints, scores; pixels) and
  ``FaceMesh(static_image_mode=True, max_num_faces=10, refine_landmarks=False)``
  (468 landmarks x, y in pixels per face found).

Run it with a Python that has ``mediapipe==0.10.21`` (which brings the
numpy 1.x ABI it needs), ``ai-edge-litert``, ``av`` and vidaffect's source on
the path; nothing else in the project uses mediapipe::

    python -m venv /tmp/mpvenv
    /tmp/mpvenv/bin/pip install mediapipe==0.10.21 ai-edge-litert av safetensors torch scipy
    PYTHONPATH=src /tmp/mpvenv/bin/python tools/record_face_fixtures.py [--videos DIR] [--out DIR]

then run ``python -m pytest -q tests/faces`` with the project's environment.
Re-record when the shipped models, the chosen frames or the pre-processing
change; the tool prints, per frame, how close any anchor score or mesh face
flag comes to its threshold (a margin under ~1e-3 would make face counts
fragile between runtimes: pick another frame) and how far vidaffect's own
results are from mediapipe's on these frames.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_VIDEOS = REPO.parent / "shared" / "data" / "videos"
DEFAULT_OUT = REPO / "tests" / "fixtures" / "faces"
MEDIAPIPE_VERSION = "0.10.21"

NETWORK_FILES = {  # shipped network -> its file inside the mediapipe wheel
    "face_detection_short_range": "modules/face_detection/face_detection_short_range.tflite",
    "face_detection_full_range_sparse": "modules/face_detection/face_detection_full_range_sparse.tflite",
    "face_landmark": "modules/face_landmark/face_landmark.tflite",
}

# Network inputs: (video, frame index) letterboxed whole for the detectors; for the mesh, the region
# of the short-range detection of that rank (by score) in the whole frame, as the face detector builds it.
DETECTOR_INPUTS = {
    "face_detection_short_range": [("multi_face.avi", 0), ("WolfgangLanger_Pexels.mp4", 200)],
    "face_detection_full_range_sparse": [("multi_face.avi", 300), ("short_hamilton_clip.mp4", 250)],
}
MESH_INPUTS = [("WolfgangLanger_Pexels.mp4", 400, 0), ("multi_face.avi", 675, 1), ("short_hamilton_clip.mp4", 200, 0)]

# End-to-end frames: (fixture name, video, frame index, crop (x, y, width, height) or None for the whole frame).
FRAMES = [
    ("multi_face_400", "multi_face.avi", 400, (48, 48, 576, 288)),  # the mesh rejects one of 3 detections
    ("multi_face_0", "multi_face.avi", 0, (104, 32, 528, 296)),
    ("wolfgang_25", "WolfgangLanger_Pexels.mp4", 25, (256, 24, 384, 336)),
    ("hamilton_150", "short_hamilton_clip.mp4", 150, (96, 0, 384, 360)),
]

MESH_MAX_FACES = 10


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _frames(path: Path, indices: set[int]) -> dict[int, np.ndarray]:
    """RGB uint8 frames ``indices`` of a video (index = decode order, counting from 0)."""
    import av

    out: dict[int, np.ndarray] = {}
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i in indices:
                out[i] = f.to_ndarray(format="rgb24")
            if len(out) == len(indices):
                break
    missing = indices - set(out)
    if missing:
        sys.exit(f"{path.name}: no frames {sorted(missing)}")
    return out


def _patch(image: np.ndarray, roi, size: int, value_range: tuple[float, float], replicate: bool) -> np.ndarray:
    """The uint8 patch behind vidaffect's input tensor (checked to rebuild it bit for bit)."""
    from vidaffect.faces.roi import warp_roi

    raw = warp_roi(image, roi, (size, size), (0.0, 255.0), replicate=replicate)
    patch = raw.astype(np.uint8)
    assert np.array_equal(patch, raw), "warp_roi's patch is not integral"
    tensor = warp_roi(image, roi, (size, size), value_range, replicate=replicate)
    rebuilt = _tensor(patch, value_range)
    assert np.array_equal(rebuilt, tensor), "the uint8 patch does not rebuild the input tensor exactly"
    return patch


def _tensor(patches: np.ndarray, value_range) -> np.ndarray:
    from vidaffect.faces.roi import scale_to_range

    return scale_to_range(patches, value_range)


def _litert(model: Path, batch: np.ndarray) -> tuple[list[np.ndarray], list[str]]:
    """LiteRT's raw outputs on each item of ``batch`` (one invoke per item), stacked; and the outputs' names."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(model), num_threads=1)
    it.allocate_tensors()
    inp = it.get_input_details()[0]["index"]
    details = it.get_output_details()
    outs: list[list[np.ndarray]] = [[] for _ in details]
    for x in batch:
        it.set_tensor(inp, x[None])
        it.invoke()
        for k, d in enumerate(details):
            outs[k].append(it.get_tensor(d["index"])[0].copy())
    return [np.stack(o).astype(np.float32) for o in outs], [d["name"] for d in details]


def _roi_list(roi) -> list[float]:
    """The region, exactly (JSON keeps every bit of a float), so the inputs can be rebuilt bit for bit."""
    return [float(v) for v in (roi.cx, roi.cy, roi.width, roi.height, roi.rotation)]


def _dumps(obj, indent: str = "") -> str:
    """JSON with one key per line but every list of numbers on one line (landmarks stay compact)."""
    if isinstance(obj, dict):
        inner = indent + " "
        items = [f"{inner}{json.dumps(k)}: {_dumps(v, inner)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}" if items else "{}"
    if isinstance(obj, list) and any(isinstance(v, dict) for v in obj):
        inner = indent + " "
        return "[\n" + ",\n".join(inner + _dumps(v, inner) for v in obj) + "\n" + indent + "]"
    return json.dumps(obj, separators=(",", ":") if isinstance(obj, list) else None)


def _r(a, nd: int = 4):
    return np.round(np.asarray(a, dtype=np.float64), nd).tolist()


def record_networks(videos: Path, out: Path, wheel: Path) -> dict:
    from vidaffect.faces.blazeface import SPECS, BlazeFace
    from vidaffect.faces.mesh import INPUT_SIZE, roi_from_detection
    from vidaffect.faces.roi import letterbox_roi

    meta = {}
    by_net = {spec.network: spec for spec in SPECS.values()}
    jobs = {name: [(v, i, None) for v, i in items] for name, items in DETECTOR_INPUTS.items()}
    jobs["face_landmark"] = list(MESH_INPUTS)
    finder = BlazeFace("short", runtime="litert")
    for name, items in jobs.items():
        patches, sources = [], []
        for video, index, rank in items:
            image = _frames(videos / video, {index})[index]
            h, w = image.shape[:2]
            if name in by_net:
                roi, vr, size, rep = letterbox_roi(0, 0, w, h), (-1.0, 1.0), by_net[name].input_size, False
                kind = "letterboxed whole frame"
            else:
                dets = finder.detect(image)
                order = np.argsort(-dets.scores, kind="stable")
                if rank >= len(order):
                    sys.exit(f"{video} frame {index}: no detection of rank {rank} for a mesh input")
                k = int(order[rank])
                roi, vr, size, rep = roi_from_detection(dets.xyxy[k], dets.keypoints[k]), (0.0, 1.0), INPUT_SIZE, True
                kind = f"face region of short-range detection rank {rank} (score {dets.scores[k]:.3f})"
            patches.append(_patch(image, roi, size, vr, rep))
            sources.append({"video": video, "frame": index, "frame_size": [w, h], "roi": _roi_list(roi),
                            "input": kind, "replicate_border": rep})
        patches = np.stack(patches)
        outputs, names = _litert(wheel / NETWORK_FILES[name], _tensor(patches, vr))
        arrays = {"patches": patches, "value_range": np.asarray(vr, np.float32)}
        arrays.update({f"output_{k}": o for k, o in enumerate(outputs)})
        np.savez_compressed(out / f"{name}.npz", **arrays)
        meta[name] = {"file": f"{name}.npz", "output_names": names, "inputs": sources,
                      "roi_format": "cx, cy, width, height, rotation (radians), image pixels"}
        print(f"{name}: {len(patches)} inputs, outputs {[o.shape for o in outputs]}")
    finder.close()
    return meta


def _mp_detections(result, w: int, h: int) -> dict:
    dets = result.detections or []
    boxes, kps, scores = [], [], []
    for d in dets:
        b = d.location_data.relative_bounding_box
        boxes.append([b.xmin * w, b.ymin * h, (b.xmin + b.width) * w, (b.ymin + b.height) * h])
        kps.append([[k.x * w, k.y * h] for k in d.location_data.relative_keypoints])
        scores.append(d.score[0])
    return {"boxes": _r(boxes), "keypoints": _r(kps), "scores": _r(scores, 6)}


def _margins(image: np.ndarray) -> dict:
    """How close any anchor score (each model) and any mesh face flag comes to its threshold; our results too."""
    from vidaffect.faces.blazeface import BlazeFace
    from vidaffect.faces.mesh import FaceMesh, roi_from_detection
    from vidaffect.faces.roi import letterbox_roi, warp_roi

    h, w = image.shape[:2]
    out = {}
    for model in ("short", "full"):
        b = BlazeFace(model, runtime="litert")
        size = b.spec.input_size
        x = warp_roi(image, letterbox_roi(0, 0, w, h), (size, size), (-1.0, 1.0))[None]
        s = 1 / (1 + np.exp(-np.clip(b.net(x)[1].reshape(-1).astype(np.float64), -100, 100)))
        out[model] = (float(np.abs(s - b.threshold).min()), b.detect(image))
        b.close()
    mesh = FaceMesh(runtime="litert")
    dets = out["short"][1]
    rois = [roi_from_detection(dets.xyxy[i], dets.keypoints[i]) for i in range(len(dets))]
    lm, presence = mesh.run(image, rois)
    out["mesh"] = (float(np.abs(presence - 0.5).min()) if len(presence) else 1.0, lm)
    mesh.close()
    return out


def record_frames(videos: Path, out: Path) -> list[dict]:
    import cv2
    import mediapipe as mp

    fd = {sel: mp.solutions.face_detection.FaceDetection(model_selection=sel, min_detection_confidence=0.5)
          for sel in (0, 1)}
    fm = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=MESH_MAX_FACES,
                                         refine_landmarks=False)
    meta = []
    for name, video, index, crop in FRAMES:
        frame = _frames(videos / video, {index})[index]
        fh, fw = frame.shape[:2]
        x, y, cw, ch = crop if crop is not None else (0, 0, fw, fh)
        if x < 0 or y < 0 or x + cw > fw or y + ch > fh:
            sys.exit(f"{name}: crop {crop} outside the {fw}x{fh} frame")
        image = np.ascontiguousarray(frame[y:y + ch, x:x + cw])
        path = out / f"{name}.png"
        cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
        image = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)  # exactly the PNG's pixels
        h, w = image.shape[:2]
        entry = {"file": path.name, "video": video, "frame": index, "frame_size": [fw, fh],
                 "crop": [x, y, cw, ch], "size": [w, h], "face_detection": {}}
        for sel in (0, 1):
            entry["face_detection"][str(sel)] = _mp_detections(fd[sel].process(image), w, h)
        faces = fm.process(image).multi_face_landmarks or []
        entry["face_mesh"] = {"landmarks": [_r([[p.x * w, p.y * h] for p in f.landmark][:468], 3) for f in faces]}
        meta.append(entry)

        # what a reviewer of the choice needs: threshold margins, and vidaffect against mediapipe here
        m = _margins(image)
        line = [f"{name} ({path.stat().st_size // 1024} KiB)"]
        for sel, model in ((0, "short"), (1, "full")):
            ref, ours = entry["face_detection"][str(sel)], m[model][1]
            diff = "n/a"
            if len(ours) == len(ref["scores"]) and len(ours):
                o = np.argsort(-ours.scores, kind="stable")
                rb, rk = np.asarray(ref["boxes"]), np.asarray(ref["keypoints"])
                diff = f"{max(np.abs(ours.xyxy[o] - rb).max(), np.abs(ours.keypoints[o] - rk).max()):.4f}px"
            line.append(f"model {sel}: mediapipe {len(ref['scores'])} ours {len(ours)} faces, max diff {diff}, "
                        f"score margin {m[model][0]:.4f}")
        lm = m["mesh"][1]
        found = lm[~np.isnan(lm[:, 0, 0])][:, :, :2]
        ref = [np.asarray(f) for f in entry["face_mesh"]["landmarks"]]
        diff = "n/a"
        if len(found) == len(ref) and len(ref):
            diff = max(min(np.abs(f - r).max() for f in found) for r in ref)
            diff = f"{diff:.4f}px"
        line.append(f"mesh: mediapipe {len(ref)} ours {len(found)} faces, max diff {diff}, "
                    f"presence margin {m['mesh'][0]:.4f}")
        print("\n  ".join(line))
    for f in fd.values():
        f.close()
    fm.close()
    return meta


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--videos", type=Path, default=DEFAULT_VIDEOS, help="the shared test videos")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the fixtures go")
    args = ap.parse_args(argv)

    import mediapipe as mp

    if mp.__version__ != MEDIAPIPE_VERSION:
        sys.exit(f"mediapipe {mp.__version__} found; the references are mediapipe=={MEDIAPIPE_VERSION}'s")
    from vidaffect.faces.runtime import asset

    wheel = Path(mp.__file__).resolve().parent
    models = {}
    for name, rel in NETWORK_FILES.items():
        sha = _sha256(wheel / rel)
        if sha != _sha256(asset(name, ".tflite")):
            sys.exit(f"{asset(name, '.tflite')} differs from mediapipe's {rel}: run tools/convert_mediapipe_faces.py")
        models[name] = {"source_file": f"mediapipe/{rel}", "sha256": sha}

    args.out.mkdir(parents=True, exist_ok=True)
    networks = record_networks(args.videos, args.out, wheel)
    frames = record_frames(args.videos, args.out)

    from importlib.metadata import version

    reference = {
        "generator": "tools/record_face_fixtures.py",
        "versions": {p: version(p) for p in ("mediapipe", "ai-edge-litert", "av", "numpy", "opencv-contrib-python")},
        "units": "pixels of the PNG (boxes x1, y1, x2, y2; keypoints and landmarks x, y)",
        "mediapipe_calls": {
            "face_detection": "mp.solutions.face_detection.FaceDetection(model_selection=0|1, "
                              "min_detection_confidence=0.5).process(rgb)",
            "face_mesh": f"mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces={MESH_MAX_FACES}, "
                         "refine_landmarks=False).process(rgb)",
        },
        "models": models,
        "networks": networks,
        "frames": frames,
    }
    (args.out / "reference.json").write_text(_dumps(reference) + "\n")
    total = sum(p.stat().st_size for p in args.out.iterdir() if p.is_file())
    print(f"wrote {args.out} ({total / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
