"""Identity on the real shared videos: same person across a gap, different people apart, gallery round trip,
discovery across videos (vidaffect's own descriptor: no dlib needed)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vidaffect.identity.cluster import DEFAULT_THRESHOLD

VIDEOS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "videos"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not (VIDEOS / "multi_face.avi").is_file(), reason=f"shared videos absent ({VIDEOS})"),
]


@pytest.fixture(scope="module")
def embedder():
    from vidaffect.identity.descriptor import FaceDescriptor

    return FaceDescriptor()


def _tracks(embedder, name, start=None, end=None, min_frames=3):
    from vidaffect.identity.tracks import video_tracks

    return video_tracks(VIDEOS / name, embedder, fps=5, start=start, end=end, min_frames=min_frames)


@pytest.fixture(scope="module")
def windows(embedder):
    """multi_face.avi tracked separately in 0-3 s and 20-23.4 s (new track ids), plus two other people."""
    a = _tracks(embedder, "multi_face.avi", 0, 3)
    b = _tracks(embedder, "multi_face.avi", 20, 23.4)
    wolf = _tracks(embedder, "WolfgangLanger_Pexels.mp4", 5, 7)
    single = _tracks(embedder, "single_face.mp4")
    return a, b, wolf, single


def _cluster(groups):
    from vidaffect.identity.cluster import DEFAULT_THRESHOLD, cluster_embeddings, co_occurring

    tracks = [t for g in groups for t in g]
    keyed = [{(gi, f) for f in t.times} for gi, g in enumerate(groups) for t in g]
    return cluster_embeddings(np.stack([t.embedding for t in tracks]), DEFAULT_THRESHOLD, co_occurring(keyed))


def test_same_person_clusters_across_gap_and_people_stay_apart(windows):
    a, b, wolf, single = windows
    assert len(a) >= 2 and len(b) >= 1 and len(wolf) == 1 and len(single) == 1
    labels = _cluster([a, b, wolf, single])
    la, lb = labels[:len(a)], labels[len(a):len(a) + len(b)]
    lw, ls = labels[len(a) + len(b)], labels[-1]
    big_a = np.argsort([-t.frames for t in a])[:2]
    # the two people on screen together at the start are different persons...
    assert la[big_a[0]] != la[big_a[1]]
    # ...and both come back 17 s later under new track ids: same person ids
    assert set(la[big_a]) <= set(lb)
    # the women of the two other videos are neither each other nor anyone of multi_face
    assert lw != ls
    assert lw not in set(la) | set(lb) and ls not in set(la) | set(lb)


def test_video_tracks_embed_each_track_and_count_the_cost(embedder):
    from vidaffect.identity.tracks import EmbedCost, video_tracks

    cost = EmbedCost()
    tracks = video_tracks(VIDEOS / "single_face.mp4", embedder, fps=10, cost=cost)
    assert len(tracks) == 1 and tracks[0].n_embedded >= 3 and tracks[0].frames >= 20
    assert cost.embedded >= tracks[0].n_embedded and cost.frames >= tracks[0].frames
    assert np.linalg.norm(tracks[0].embedding) == pytest.approx(1.0, abs=1e-5)
    assert tracks[0].thumbnail.shape == (96, 96, 3) and tracks[0].thumbnail.mean() > 20


def test_enroll_then_analyze_with_gallery_names_people(tmp_path):
    from PIL import Image

    from vidaffect.cli.main import main
    from vidaffect.video import open_video

    # Wolfgang's woman enrolled from one still image, the single_face woman from her video
    frame = next(iter(open_video(VIDEOS / "WolfgangLanger_Pexels.mp4", start=2.0)))
    Image.fromarray(frame.image).save(tmp_path / "woman.png")
    gallery = tmp_path / "gallery.json"
    assert main(["people", "enroll", "Ruth", str(tmp_path / "woman.png"), "--gallery", str(gallery), "-q"]) == 0
    assert main(["people", "enroll", "Mina", str(VIDEOS / "single_face.mp4"), "--gallery", str(gallery), "-q"]) == 0

    out = tmp_path / "out"
    common = ["--fps", "4", "--no-plot", "-q", "-o", str(out), "--gallery", str(gallery)]
    assert main(["analyze", str(VIDEOS / "WolfgangLanger_Pexels.mp4"), "--start", "14", "--end", "16"] + common) == 0
    assert main(["analyze", str(VIDEOS / "multi_face.avi"), "--start", "0", "--end", "1.5"] + common) == 0
    ruth = pd.read_csv(out / "WolfgangLanger_Pexels.frames.csv")
    faces = ruth[ruth["face_id"] >= 0]
    assert len(faces) and set(faces["person_name"]) == {"Ruth"} and (faces["person_id"] >= 0).all()
    others = pd.read_csv(out / "multi_face.frames.csv")
    faces = others[others["face_id"] >= 0]
    assert len(faces) and set(faces["person_name"]) == {"unknown"}
    import json

    meta = json.loads((out / "multi_face.metadata.json").read_text())
    assert meta["identity"]["threshold"] == pytest.approx(DEFAULT_THRESHOLD) and meta["identity"]["gallery"] == str(gallery)


def test_discover_writes_a_contact_sheet_per_cluster(tmp_path):
    import json

    from vidaffect.cli.main import main

    import shutil

    out = tmp_path / "people"
    shutil.copy(VIDEOS / "single_face.mp4", tmp_path / "again.mp4")
    assert main(["people", "discover", str(VIDEOS / "single_face.mp4"), str(tmp_path / "again.mp4"),
                 "-o", str(out), "--fps", "5", "-q"]) == 0
    doc = json.loads((out / "clusters.json").read_text())
    # the same clip twice: one person, two tracks (one per copy)
    assert len(doc["clusters"]) == 1 and len(doc["clusters"][0]["tracks"]) == 2
    from PIL import Image

    sheet = Image.open(out / doc["clusters"][0]["contact_sheet"])
    assert sheet.size[0] >= 2 * 96
    # name the cluster: enroll it from the discovery, then the clip is recognised
    gallery = tmp_path / "g.json"
    assert main(["people", "enroll", "Mina", "--discovered", str(out), "--cluster", "0", "--gallery", str(gallery), "-q"]) == 0
    from vidaffect.identity.gallery import Gallery

    g = Gallery.load(gallery)
    assert g.names == ["Mina"] and len(g.people["Mina"]) == 2
    assert main(["people", "enroll", "X", "--discovered", str(out), "--cluster", "7", "--gallery", str(gallery), "-q"]) == 1
