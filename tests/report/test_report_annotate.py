"""The annotated video: same frames and timing as the source, audio kept, drawings where the faces are."""
import av
import numpy as np
import pytest
from report_synth import make_results, make_video

from vidaffect.errors import OutputError
from vidaffect.report import annotate_video
from vidaffect.video import open_video


def decode(path):
    """(RGB frames, their times in s) of the first video stream."""
    frames, times = [], []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            frames.append(f.to_ndarray(format="rgb24"))
            times.append(float(f.pts * f.time_base))
    return frames, times


def audio_info(path):
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return None
        s = c.streams.audio[0]
        packets = [p for p in c.demux(s) if p.size]
        dur = float((packets[-1].pts + packets[-1].duration) * s.time_base) if packets else 0.0
        return s.codec_context.codec.id, dur


@pytest.mark.integration
def test_annotated_real_video_matches_the_source(analyzed_dir, tmp_path):
    from video_fixtures import shared_video

    from vidaffect.results.results import Results

    source = shared_video("single_face.mp4")  # H.264 + MP3
    res = Results.load(analyzed_dir / "single_face.frames.parquet")
    out = annotate_video(source, res, tmp_path / "a.mp4")
    src_frames, src_times = decode(source)
    out_frames, out_times = decode(out)
    assert len(out_frames) == len(src_frames) == 72
    assert out_times == pytest.approx(src_times, abs=1e-6)
    a, b = open_video(source).info, open_video(out).info
    assert b.duration_s == pytest.approx(a.duration_s, abs=1.0 / a.fps)
    assert (b.width, b.height) == (a.width, a.height)
    # audio copied packet for packet: same codec, same length
    src_audio, out_audio = audio_info(source), audio_info(out)
    assert out_audio is not None and out_audio[0] == src_audio[0]
    assert out_audio[1] == pytest.approx(src_audio[1], abs=0.05)
    # the drawing is there: the box outline changes the pixels inside the reported face box...
    faces = res.faces.set_index("frame")
    for k in (0, 35, 71):
        r = faces.loc[k]
        x1, y1, x2, y2 = (int(round(v)) for v in (r.x1, r.y1, r.x2, r.y2))
        inside = np.abs(out_frames[k][y1:y2, x1:x2].astype(int) - src_frames[k][y1:y2, x1:x2]).mean(axis=2)
        border = np.concatenate([inside[:3].ravel(), inside[-3:].ravel(), inside[:, :3].ravel(), inside[:, -3:].ravel()])
        assert border.mean() > 25, k
        # ...while a corner far from the face and its label stays as it was (only coding noise)
        corner = np.abs(out_frames[k][-40:, :40].astype(int) - src_frames[k][-40:, :40]).mean()
        assert corner < 6, k


def test_sampled_analysis_holds_boxes_one_step_and_audio_is_transcoded(tmp_path):
    source = make_video(tmp_path / "s.mkv", n=20, fps=10, audio=True)  # PCM audio: MP4 cannot copy it
    res = make_results(source, n=20, step=5, last=10)  # analysed frames 0, 5, 10 (like --fps 2 --end 1.05)
    out = annotate_video(source, res, tmp_path / "a.mp4")
    src_frames, src_times = decode(source)
    out_frames, out_times = decode(out)
    assert len(out_frames) == 20 and out_times == pytest.approx(src_times)
    changed = [np.abs(o.astype(int) - s).mean() > 2 for o, s in zip(out_frames, src_frames)]
    assert changed == [True] * 15 + [False] * 5  # frames 10-14 keep frame 10's faces, none after
    codec_id, duration = audio_info(out)
    assert codec_id == av.Codec("aac", "r").id
    assert duration == pytest.approx(2.0, abs=0.1)


def test_mpeg4_fallback_and_refusing_to_overwrite_the_source(tmp_path):
    source = make_video(tmp_path / "s.mp4", n=6, fps=10)
    res = make_results(source, n=6)
    out = annotate_video(source, res, tmp_path / "m.mp4", codec="mpeg4")
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.name == "mpeg4"
    assert decode(out)[1] == pytest.approx([i / 10 for i in range(6)])
    with pytest.raises(OutputError, match="overwrite its source"):
        annotate_video(source, res, source)
    with pytest.raises(OutputError, match="not available"):
        annotate_video(source, res, tmp_path / "x.mp4", codec="no-such-codec")
