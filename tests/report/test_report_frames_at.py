"""Frame lookup by time (thumbnails): the frame the analysis saw, also after seeking."""
import numpy as np
import pytest
from video_fixtures import write_video

from vidaffect.report.frames_at import frames_at, rotate
from vidaffect.video import open_video


@pytest.fixture(scope="module")
def numbered(tmp_path_factory):
    """4 s at 10 fps, key frame every 12 frames; frame i has grey level 6 * i."""
    frames = [np.full((48, 64, 3), 6 * i, np.uint8) for i in range(40)]
    return write_video(tmp_path_factory.mktemp("fa") / "n.mp4", frames, fps=10, gop_size=12, options={"qscale": "2"})


@pytest.mark.parametrize("seek_ahead", [2.0, 0.3])  # 0.3: most jumps seek (to a key frame, then decode on)
def test_frames_at_returns_the_frames_the_reader_sees(numbered, seek_ahead, monkeypatch):
    from vidaffect.report import frames_at as module

    monkeypatch.setattr(module, "SEEK_AHEAD_S", seek_ahead)
    ref = {round(f.time_s, 3): f.image for f in open_video(numbered)}
    wanted = [3.9, 0.0, 0.1, 0.5, 3.3, 3.4, 1.2, 2.0]  # unsorted, far jumps (seek) and near steps
    got = dict(frames_at(numbered, wanted))
    assert sorted(got) == sorted(wanted)
    for t, image in got.items():
        assert np.array_equal(image, ref[round(t, 3)]), t
        assert abs(float(image.mean()) - 6 * round(t * 10)) < 6, t  # (lossy coding moves the level a little)
    levels = [float(got[t].mean()) for t in sorted(got)]
    assert all(b > a + 2 for a, b in zip(levels, levels[1:]))  # all different frames, in time order


def test_times_past_the_end_are_skipped_and_rotation_applies(numbered):
    got = list(frames_at(numbered, [0.2, 99.0], rotation=90))
    assert [t for t, _ in got] == [0.2]
    assert got[0][1].shape == (64, 48, 3)
    img = np.arange(6).reshape(2, 3)
    assert np.array_equal(rotate(img, 90), np.rot90(img)) and rotate(img, 0) is img
