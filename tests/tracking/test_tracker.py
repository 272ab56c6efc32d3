"""Tracker: stable ids, gap tolerance, new ids after long gaps and cuts."""
from __future__ import annotations

import numpy as np

from vidaffect.faces import Detections, box_iou
from vidaffect.tracking import FaceTracker


def dets(*boxes) -> Detections:
    n = len(boxes)
    return Detections(np.array(boxes, dtype=float).reshape(n, 4), np.ones(n), np.zeros((n, 6, 2)))


def test_box_iou_values():
    iou = box_iou(np.array([[0, 0, 10, 10]]), np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]]))
    np.testing.assert_allclose(iou[0], [1.0, 50 / 150, 0.0], atol=1e-6)


def test_two_faces_keep_their_ids_while_moving_and_swapping_order():
    tr = FaceTracker()
    a, b = [0, 0, 50, 50], [200, 0, 250, 50]
    first = tr.update(dets(a, b), 0.0).face_ids.tolist()
    assert first == [0, 1]
    for k in range(1, 20):  # both move 5 px per frame; detector order swaps every frame
        a2 = [a[0] + 5 * k, 0, a[2] + 5 * k, 50]
        b2 = [b[0] - 5 * k, 0, b[2] - 5 * k, 50]
        order = (b2, a2) if k % 2 else (a2, b2)
        ids = tr.update(dets(*order), k / 25).face_ids.tolist()
        assert ids == ([1, 0] if k % 2 else [0, 1])


def test_short_gap_keeps_id_long_gap_gets_new_id():
    tr = FaceTracker(max_gap_s=1.0)
    box = [100, 100, 160, 160]
    assert tr.update(dets(box), 0.0).face_ids.tolist() == [0]
    tr.update(Detections.empty(), 0.4)
    assert tr.update(dets([110, 100, 170, 160]), 0.8).face_ids.tolist() == [0]  # 0.8 s gap: same face
    assert tr.update(dets(box), 2.5).face_ids.tolist() == [1]  # 1.7 s gap: new id


def test_fast_motion_matched_by_centre_distance():
    tr = FaceTracker()
    tr.update(dets([0, 0, 100, 100]), 0.0)
    # moved by 60 px: IoU 0.25 < 0.3, centre distance 60/141 = 0.42 diagonal -> still the same face
    assert tr.update(dets([60, 0, 160, 100]), 0.04).face_ids.tolist() == [0]
    # a far-away face is someone else
    assert tr.update(dets([60, 0, 160, 100], [500, 0, 600, 100]), 0.08).face_ids.tolist() == [0, 1]


def test_cut_ends_tracks():
    tr = FaceTracker()
    tr.update(dets([0, 0, 50, 50]), 0.0)
    tr.cut()
    assert tr.update(dets([0, 0, 50, 50]), 0.04).face_ids.tolist() == [1]


def test_scene_cut_detector_flags_hard_cuts_only():
    from vidaffect.video.scene_cut import SceneCutDetector

    rng = np.random.default_rng(0)
    dark = rng.integers(0, 60, (90, 160, 3), dtype=np.uint8)
    bright = rng.integers(180, 255, (90, 160, 3), dtype=np.uint8)
    det = SceneCutDetector()
    assert det.update(dark) is False
    assert det.update(np.clip(dark.astype(int) + 5, 0, 255).astype(np.uint8)) is False  # small change
    assert det.update(bright) is True


def test_carried_mesh_follows_keypoint_motion():
    """Between mesh frames, a face's last mesh is moved by its keypoints' similarity transform."""
    from vidaffect.faces.detector import FaceDetector

    det = FaceDetector.__new__(FaceDetector)  # no networks needed for this step
    kps = np.zeros((1, 6, 2), np.float32)
    kps[0, :4] = [[40, 50], [80, 50], [60, 70], [60, 90]]
    lm = np.random.default_rng(0).uniform(30, 100, (1, 468, 2)).astype(np.float32)
    det._last_meshed = Detections(np.array([[20, 20, 100, 110]]), np.ones(1), kps, lm)
    moved = kps.copy()
    moved[0, :4] += [7, -3]
    out = det._carry_mesh(Detections(np.array([[27, 17, 107, 107]]), np.ones(1), moved))
    np.testing.assert_allclose(out[0], lm[0] + [7, -3], atol=1e-3)
    far = det._carry_mesh(Detections(np.array([[300, 300, 380, 390]]), np.ones(1), moved + 280))
    assert np.isnan(far).all()  # no overlapping meshed face: not verified


def carried(ids, *boxes) -> Detections:
    d = dets(*boxes)
    d.face_ids = np.array(ids)
    d.detected = np.zeros(len(d), dtype=bool)
    d.verified = np.zeros(len(d), dtype=bool)
    return d


def unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    return v / np.linalg.norm(v)


def test_kalman_prediction_follows_a_fast_face_through_a_missed_detection():
    """30 px per frame, one frame without a box: the old last-box match (IoU 0.06, centre 0.72 diagonals)
    would give a new id; the velocity prediction keeps it."""
    tr = FaceTracker()
    for k in range(6):
        assert tr.update(dets([30 * k, 0, 30 * k + 50, 50]), k / 30).face_ids.tolist() == [0]
    tr.update(Detections.empty(), 6 / 30)
    assert tr.update(dets([30 * 7, 0, 30 * 7 + 50, 50]), 7 / 30).face_ids.tolist() == [0]


def test_without_motion_model_the_same_jump_breaks_the_track():
    """The check above can fail: a face that stood still and then jumps as far gets a new id."""
    tr = FaceTracker()
    for k in range(6):
        tr.update(dets([150, 0, 200, 50]), k / 30)
    tr.update(Detections.empty(), 6 / 30)
    assert tr.update(dets([210, 0, 260, 50]), 7 / 30).face_ids.tolist() == [1]


def test_carried_faces_keep_their_id_even_when_boxes_cross():
    tr = FaceTracker()
    tr.update(dets([0, 0, 50, 50], [60, 0, 110, 50]), 0.0)
    # flow says face 0 moved right onto face 1's old place and face 1 moved left: ids follow flow, not IoU
    out = tr.update(carried([0, 1], [58, 0, 108, 50], [2, 0, 52, 50]), 1 / 30)
    assert out.face_ids.tolist() == [0, 1]


def test_single_detection_flicker_is_tentative_and_discarded():
    tr = FaceTracker(confirm_hits=2)
    tr.update(dets([0, 0, 50, 50]), 0.0)
    tr.update(dets([0, 0, 50, 50], [300, 300, 340, 340]), 0.2)  # a false face on one detection frame
    for k in range(3, 10):
        tr.update(dets([0, 0, 50, 50]), k / 10)
    tracks = tr.finish()
    assert [t.face_id for t in tracks] == [0]
    assert tr.discarded == {1}


def test_carried_frames_do_not_confirm_a_track():
    tr = FaceTracker(confirm_hits=2)
    tr.update(dets([0, 0, 50, 50]), 0.0)
    for k in range(1, 6):
        tr.update(carried([0], [0, 0, 50, 50]), k / 30)
    assert tr.finish() == [] and tr.discarded == {0}


def test_reidentification_by_embedding_within_a_shot():
    a, b = unit([1, 0, 0, 0.1]), unit([0, 1, 0, 0.1])
    embs = {"a": a, "b": b}
    tr = FaceTracker(max_gap_s=0.5, reid_distance=0.1)
    for k in range(10):  # a on the left, b on the right
        d = dets([0, 0, 50, 50], [300, 0, 350, 50])
        tr.update(d, k / 10, embed=lambda idx: np.stack([[a, b][i] for i in idx]))
    # both leave for 3 s, then come back at swapped places: appearance, not position, decides
    d = dets([300, 0, 350, 50], [0, 0, 50, 50])
    out = tr.update(d, 4.0, embed=lambda idx: np.stack([[b, a][i] for i in idx]))
    assert out.face_ids.tolist() == [1, 0]
    # a stranger far from both embeddings gets a new id
    out = tr.update(dets([0, 0, 50, 50], [300, 0, 350, 50], [150, 100, 200, 150]), 4.1,
                    embed=lambda idx: np.stack([[a, b, unit([0, 0, 1, 0])][i] for i in idx]))
    assert out.face_ids.tolist() == [0, 1, 2]
    assert embs and tr.embeddings_computed >= 3


def test_no_reidentification_across_a_cut():
    a = unit([1, 0, 0])
    tr = FaceTracker()
    for k in range(3):
        tr.update(dets([0, 0, 50, 50]), k / 10, embed=lambda idx: np.stack([a for _ in idx]))
    tr.cut()
    out = tr.update(dets([0, 0, 50, 50]), 0.4, embed=lambda idx: np.stack([a for _ in idx]))
    assert out.face_ids.tolist() == [1]


def test_embeddings_are_refreshed_at_most_every_embed_every_s():
    calls = []

    def embed(idx):
        calls.append(len(idx))
        return np.tile(unit([1, 0]), (len(idx), 1))

    tr = FaceTracker(embed_every_s=1.0)
    for k in range(31):  # 3 s at 10 fps, detected every frame
        tr.update(dets([0, 0, 50, 50]), k / 10, embed=embed)
    assert sum(calls) == 4  # at 0, 1, 2 and 3 s


def test_negative_max_gap_is_refused():
    import pytest

    with pytest.raises(ValueError):
        FaceTracker(max_gap_s=-1)


def test_track_started_without_embedding_is_merged_into_the_earlier_track_of_that_face():
    """A face comes back too small (or without a mesh) to embed: it starts a new track; once it can be
    embedded and matches the lost track, the new id is merged into the old one (``merged``)."""
    a = unit([1, 0, 0.1])
    tr = FaceTracker(max_gap_s=0.3, reid_distance=0.1)
    for k in range(5):
        tr.update(dets([0, 0, 50, 50]), k / 10, embed=lambda idx: np.stack([a for _ in idx]))
    nan = np.full(3, np.nan)
    assert tr.update(dets([400, 0, 420, 20]), 2.0, embed=lambda idx: np.stack([nan for _ in idx])).face_ids.tolist() == [1]
    out = tr.update(dets([402, 0, 422, 20]), 2.1, embed=lambda idx: np.stack([a for _ in idx]))
    assert out.face_ids.tolist() == [0]
    assert tr.merged == {1: 0}
    assert [t.face_id for t in tr.finish()] == [0] and not tr.discarded


def test_appearance_gate_splits_an_uncertain_match_to_someone_else():
    """After a cut the cut detector missed, another person's face near the old box is matched by
    position only weakly; its embedding is far from the track's, so it becomes a new track."""
    a, b = unit([1, 0, 0]), unit([0, 1, 0])
    tr = FaceTracker(split_distance=0.2)
    for k in range(5):
        tr.update(dets([0, 0, 100, 100]), k / 30, embed=lambda idx: np.stack([a for _ in idx]))
    out = tr.update(dets([40, 0, 140, 100]), 5 / 30, embed=lambda idx: np.stack([b for _ in idx]))  # IoU 0.43
    assert out.face_ids.tolist() == [1] and tr.splits == 1
    # the same weak overlap by the same face stays one track
    tr2 = FaceTracker(split_distance=0.2)
    for k in range(5):
        tr2.update(dets([0, 0, 100, 100]), k / 30, embed=lambda idx: np.stack([a for _ in idx]))
    assert tr2.update(dets([40, 0, 140, 100]), 5 / 30, embed=lambda idx: np.stack([a for _ in idx])).face_ids.tolist() == [0]


def test_faces_the_mesh_followed_confirm_a_track_but_do_not_extend_its_detected_stretch():
    """A face the detector misses but the mesh follows (verified, not detected) is real: it confirms the
    track; only detector hits extend the stretches person linking compares."""
    tr = FaceTracker(confirm_hits=2)
    tr.update(dets([0, 0, 50, 50]), 0.0)
    for k in range(1, 4):
        d = dets([0, 0, 50, 50])
        d.detected = np.zeros(1, dtype=bool)  # verified stays True: the mesh found it
        tr.update(d, k / 5)
    (t,) = tr.finish()
    assert t.confirmed and t.spans == [[0.0, 0.0]]


def test_configured_takes_the_embedders_distances_and_confirms_stills_at_once():
    from types import SimpleNamespace

    emb = SimpleNamespace(reid_distance=0.07, split_distance=0.12)
    tr = FaceTracker.configured(emb, max_gap_s=2.0)
    assert (tr.reid_distance, tr.split_distance, tr.confirm_hits, tr.max_gap_s) == (0.07, 0.12, 2, 2.0)
    assert FaceTracker.configured(None, stills=True).confirm_hits == 1
    assert FaceTracker.configured(emb, embed_every_s=0.5).embed_every_s == 0.5
