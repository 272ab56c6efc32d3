"""Data set layouts (CASME II, SAMM, SMIC) and the DSSN preprocessing cache."""
from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pandas as pd
import pytest
from micro_synth import write_dataset

from vidaffect.errors import VidaffectError
from vidaffect.micro.layouts import DatasetLayoutError, load_samples, subject_folder
from vidaffect.micro.preprocess import FEATURE_KEYS, PreprocessConfig, compute_features, preprocess_samples


@pytest.mark.parametrize("layout", ["casme2", "samm", "smic"])
def test_layouts_resolve_onset_and_apex_frames(tmp_path, layout):
    csv = write_dataset(tmp_path, layout, subjects=2, per_class=1, classes=("right", "up"), n=5, first_frame=7)
    samples = load_samples(csv, tmp_path, layout)
    assert len(samples) == 4
    assert {s.emotion for s in samples} == {"right", "up"}
    for s in samples:
        assert (s.onset, s.apex) == (7, 9)  # SMIC has no apex column: the middle of onset..offset
        assert s.onset_path.is_file() and s.apex_path.is_file()
        assert s.onset_path.parent == s.apex_path.parent
        assert s.onset_path.stem.endswith("7") and s.apex_path.stem.endswith("9")
    assert len({s.subject for s in samples}) == 2


def test_subject_folder_names():
    assert subject_folder("1", "casme2") == "sub01" and subject_folder("sub17", "casme2") == "sub17"
    assert subject_folder("6", "samm") == "006" and subject_folder("006", "samm") == "006"
    assert subject_folder("3", "smic") == "s3" and subject_folder("s3", "smic") == "s3"


def test_layout_errors_name_the_problem(tmp_path):
    csv = write_dataset(tmp_path, "casme2", subjects=1, per_class=1, classes=("right",), n=5)
    with pytest.raises(DatasetLayoutError, match="not found"):
        load_samples(tmp_path / "missing.csv", tmp_path, "casme2")
    bad = tmp_path / "bad.csv"
    bad.write_text("Subject,Filename,ApexFrame\n01,EP00_1f,12\n")
    with pytest.raises(DatasetLayoutError, match="no onset column"):
        load_samples(bad, tmp_path, "casme2")
    wrong_frame = tmp_path / "wrong.csv"
    wrong_frame.write_text(csv.read_text().replace(",10,12,", ",10,99,"))
    with pytest.raises(DatasetLayoutError, match="frame 99 not found"):
        load_samples(wrong_frame, tmp_path, "casme2")


def test_compute_features_shapes_ranges_and_direction():
    from micro_synth import clip_frames

    rng = np.random.default_rng(3)
    frames = clip_frames("right", rng, size=64, n=7)
    feats = compute_features(frames[0], frames[3], size=48)
    assert set(feats) == set(FEATURE_KEYS)
    for k in ("u", "v", "mag", "strain"):
        assert feats[k].shape == (48, 48) and feats[k].dtype == np.uint8
        assert feats[k].min() == 0 and feats[k].max() == 255  # min-max scaled per sample
    gray = cv2.resize(cv2.cvtColor(frames[3], cv2.COLOR_RGB2GRAY), (48, 48), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(feats["gray"], gray)
    # rightward motion of the central patch: u is high in the patch, low outside
    assert feats["u"][18:30, 18:30].mean() > feats["u"][:6].mean() + 60


def test_preprocess_cache_is_complete_parallel_and_idempotent(tmp_path):
    csv = write_dataset(tmp_path / "data", "samm", subjects=2, per_class=1, n=5)
    samples = load_samples(csv, tmp_path / "data", "samm")
    out = tmp_path / "cache"
    manifest = preprocess_samples(samples, out, "samm", PreprocessConfig(size=40), workers=2, progress=False)
    assert len(manifest) == 8 and set(manifest["subject"]) == {"001", "002"}
    files = sorted((out / "features").glob("*.npz"))
    assert len(files) == 8
    with np.load(files[0]) as z:
        assert set(z.files) == set(FEATURE_KEYS)
        assert all(z[k].shape == (40, 40) and z[k].dtype == np.uint8 for k in FEATURE_KEYS)
    stamps = {f: f.stat().st_mtime_ns for f in files}
    os.utime(files[0], ns=(1, 1))  # re-running must not rewrite existing files
    again = preprocess_samples(samples, out, "samm", PreprocessConfig(size=40), workers=2, progress=False)
    assert files[0].stat().st_mtime_ns == 1
    assert all(f.stat().st_mtime_ns == stamps[f] for f in files[1:])
    pd.testing.assert_frame_equal(again.reset_index(drop=True), pd.read_csv(out / "manifest.csv", dtype={"subject": str, "clip": str, "emotion": str, "key": str}))
    assert json.loads((out / "preprocess.json").read_text())["config"]["size"] == 40
    with pytest.raises(VidaffectError, match="other settings"):
        preprocess_samples(samples, out, "samm", PreprocessConfig(size=64), workers=1, progress=False)


@pytest.mark.integration
def test_preprocess_with_face_crop_on_real_frames(tmp_path):
    from pathlib import Path

    video = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "videos" / "single_face.mp4"
    if not video.is_file():
        pytest.skip(f"shared test video {video} not available")
    from vidaffect.video import open_video

    folder = tmp_path / "data" / "001" / "001_1_1"
    folder.mkdir(parents=True)
    for frame in open_video(video):
        if frame.index in (20, 28):  # uncropped 640x360 frames, SAMM naming
            cv2.imwrite(str(folder / f"001_{frame.index:05d}.jpg"), cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR))
    csv = tmp_path / "samm.csv"
    csv.write_text("Subject,Filename,Onset Frame,Apex Frame,Offset Frame,Estimated Emotion\n001,001_1_1,20,28,35,happiness\n")
    samples = load_samples(csv, tmp_path / "data", "samm")
    preprocess_samples(samples, tmp_path / "cache", "samm", PreprocessConfig(size=112, crop="face"), workers=1, progress=False)
    with np.load(tmp_path / "cache" / "features" / "001_001_1_1.npz") as z:
        gray = z["gray"]
        assert gray.shape == (112, 112) and z["mag"].max() == 255
    # an aligned face crop, not the whole frame: a detector finds a face filling most of it
    from vidaffect.faces import FaceDetector

    big = cv2.cvtColor(cv2.resize(gray, (224, 224)), cv2.COLOR_GRAY2RGB)
    dets = FaceDetector("short", max_faces=1, landmarks=False, video_mode=False).detect(big)
    assert len(dets) == 1
    x1, y1, x2, y2 = dets.xyxy[0]
    assert (x2 - x1) > 0.5 * 224 and abs((x1 + x2) / 2 - 112) < 30


def test_unreadable_frame_is_reported_with_its_file(tmp_path):
    csv = write_dataset(tmp_path / "data", "casme2", subjects=2, per_class=1, classes=("right", "up"), n=5)
    samples = load_samples(csv, tmp_path / "data", "casme2")
    samples[1].apex_path.write_bytes(b"not an image")
    with pytest.raises(VidaffectError, match=f"{samples[1].apex_path.name}: cannot read image"):
        preprocess_samples(samples, tmp_path / "cache", "casme2", PreprocessConfig(size=32), workers=2, progress=False)
    assert not list((tmp_path / "cache" / "features").glob(".*.part"))  # no half-written files left
