"""The embedded demo video: one face, then two, then none."""
from __future__ import annotations

from vidaffect.pipeline import Analyzer
from vidaffect.video import open_video


def test_demo_video_shows_one_then_two_then_no_face(demo_video):
    info = open_video(demo_video).info
    assert (info.width, info.height) == (640, 360) and abs(info.duration_s - 8.0) < 0.1
    an = Analyzer(fps=4)
    res = an.analyze(demo_video)
    an.close()
    per_frame = res.frames.groupby("time_s")["face_id"].apply(lambda s: int((s >= 0).sum()))
    early = per_frame[per_frame.index < 3.0]
    middle = per_frame[(per_frame.index >= 4.25) & (per_frame.index < 6.75)]
    late = per_frame[per_frame.index >= 7.0]
    assert (early == 1).mean() >= 0.9
    assert (middle == 2).mean() >= 0.9
    assert (late == 0).all()
    assert len(res.face_ids()) >= 2
