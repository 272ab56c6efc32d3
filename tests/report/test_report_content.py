"""What the report shows (issue 16, item 7): the analysed range only, one embedded proxy, a labelled
readout, persons with their tracks, emotion segments as a timeline, the WebVTT subtitles as a <track>."""
from __future__ import annotations

import base64
import re
import shutil

import av
import numpy as np
import pytest
from report_synth import make_results, make_video, people_results, restrict
from test_report_html import page_data, video_src

from vidaffect.plotting import plot_emotion_timeline, plot_results, plot_va_trend
from vidaffect.report import ReportOptions, build_index, build_report
from vidaffect.report.people import group_tracks
from vidaffect.results.exports.subtitles import subtitle_cues
from vidaffect.results.segments import emotion_segments

FAST = dict(thumbnails=0, static_plots=False)
needs_x264 = pytest.mark.skipif("libx264" not in av.codecs_available, reason="this PyAV build has no libx264")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("clip") / "clip.avi", n=60, fps=10)


def _decode(uri: str, tmp_path, name: str = "v.mp4") -> list[np.ndarray]:
    path = tmp_path / name
    path.write_bytes(base64.b64decode(uri.split(",", 1)[1]))
    with av.open(str(path)) as c:
        return [(float(f.time), f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]


def _track_vtt(html: str) -> str | None:
    m = re.search(r"<track kind='subtitles'[^>]* src='data:text/vtt;base64,([^']+)'", html)
    return base64.b64decode(m.group(1)).decode("utf-8") if m else None


# ---- (a) the analysed range -------------------------------------------------------------------------------

@needs_x264
def test_partial_analysis_limits_axes_proxy_and_range_mark(clip, tmp_path):
    res = restrict(make_results(clip, n=60, faces=1), 2.0, 5.0)
    html = build_report(res, tmp_path / "r.html", options=ReportOptions(video_mode="proxy", **FAST)).read_text()
    data = page_data(html)
    assert data["range"] == [2.0, 5.0] and data["partial"] and data["duration"] == 6.0
    assert data["video_offset"] == pytest.approx(2.0)
    # the proxy holds the analysed 3 s only, from time 0, and its first frame is source frame 20 (t = 2.0 s)
    frames = _decode(video_src(html), tmp_path)
    assert [round(t, 2) for t, _ in frames] == pytest.approx(list(np.arange(30) / 10))
    with av.open(str(clip)) as c:
        source = [f.to_ndarray(format="rgb24").astype(int) for f in c.decode(video=0)]
    first = frames[0][1].astype(int)
    assert int(np.argmin([np.abs(first - s).mean() for s in source])) == 20
    # a visible mark: the header text and a bar of the whole video with 2..5 s of 6 s filled
    assert "analysed 2.00–5.00 s of 6.00 s" in html
    m = re.search(r"<div id='analysed-range' class='partial'[^>]*>.*?class='range-in' style='left:([\d.]+)%;"
                  r"width:([\d.]+)%'", html)
    assert m and float(m.group(1)) == pytest.approx(100 / 3, abs=0.01) and float(m.group(2)) == pytest.approx(50)


def test_whole_video_analysis_is_not_marked_partial(clip, tmp_path):
    res = make_results(clip, n=60, faces=1)
    html = build_report(res, tmp_path / "r.html", options=ReportOptions(video_mode="none", **FAST)).read_text()
    data = page_data(html)
    assert data["range"] == [0.0, 6.0] and not data["partial"]
    assert "analysed the whole video (6.00 s)" in html and "id='analysed-range' class='whole'" in html


def test_linked_source_of_a_partial_analysis_keeps_the_source_timeline(clip, tmp_path):
    res = restrict(make_results(clip, n=60, faces=1), 2.5, None)
    html = build_report(res, tmp_path / "r.html", options=ReportOptions(video_mode="link", **FAST)).read_text()
    data = page_data(html)
    assert data["range"] == [2.5, 6.0] and data["video_offset"] == 0.0
    assert "Playback is held to the analysed range" in html


def test_index_shows_the_analysed_range(clip, tmp_path):
    restrict(make_results(clip, n=60, faces=1), 2.0, 5.0).save(tmp_path, ("csv",), plot=False)
    html = build_index(tmp_path).read_text()
    assert "<th class='num'>analysed (s)</th>" in html
    assert re.search(r"<td class='num range partial' data-v='3.0' title='analysed 2.00–5.00 s of 6.00 s'>"
                     r"2.0–5.0</td>", html)


def test_static_plots_cover_the_analysed_range(clip):
    res = restrict(make_results(clip, n=60, faces=1), 2.0, 5.0)
    for fig in (plot_va_trend(res.frames), plot_emotion_timeline(res.frames, res.classes),
                plot_results(res.frames, res.classes)):
        assert fig.axes[0].get_xlim() == pytest.approx((2.0, 4.9))


# ---- (b) one embedded copy of the proxy --------------------------------------------------------------------

@needs_x264
def test_proxy_is_embedded_once_with_the_annotated_switch(clip, tmp_path):
    res = make_results(clip, n=60, faces=1)
    annotated = shutil.copy(clip, tmp_path / "clip.annotated.mp4")
    html = build_report(res, tmp_path / "r.html", annotated=annotated,
                        options=ReportOptions(video_mode="proxy", **FAST)).read_text()
    assert html.count("data:video/mp4;base64,") == 1
    assert "<option value='original' selected>original</option>" in html
    assert "<option value='annotated' data-src='clip.annotated.mp4' data-offset='0'>annotated</option>" in html


# ---- (c) the labelled readout ------------------------------------------------------------------------------

def test_readout_beside_the_player_is_labelled(clip, tmp_path):
    res = people_results(clip)
    html = build_report(res, tmp_path / "r.html", options=ReportOptions(video_mode="none", **FAST)).read_text()
    table = re.search(r"<table id='readout'>.*?</table>", html, re.S).group(0)
    assert "<caption>At the playback position" in table
    heads = re.findall(r"<th[^>]*>([^<]+)</th>", table)
    assert heads == ["person / face", "segment", "top class (p)", "valence", "arousal"]
    rows = re.findall(r"<tr data-group='([^']+)'>", table)
    assert rows == [g["key"] for g in page_data(html)["groups"]]
    assert "<span class=\"label\">time in the video</span>" in html


# ---- (e) persons and their tracks --------------------------------------------------------------------------

def test_tracks_are_grouped_by_person(clip):
    groups = group_tracks(people_results(clip).frames)
    assert [(g.key, g.label, g.tracks, g.person) for g in groups] == [
        ("person-0", "person 0", [0, 2], True),       # 30 + 30 rows (tracks: first seen first)
        ("person-1", "person 1", [1], True),          # 60 rows, also from 0 s (ties: by key)
        ("face-3", "face 3", [3], False)]              # person_id -1: a face without a person
    assert groups[0].tracks_text == "faces 0, 2" and groups[1].tracks_text == "face 1"
    frames = people_results(clip).frames.drop(columns=["person_id"])
    assert [g.key for g in group_tracks(frames)] == ["face-1", "face-0", "face-2", "face-3"]


def test_report_shows_persons_with_tracks_as_sub_items(clip, tmp_path):
    res = people_results(clip)
    html = build_report(res, tmp_path / "r.html", options=ReportOptions(video_mode="none", thumbnails=3,
                                                                       static_plots=False)).read_text()
    data = page_data(html)
    assert data["persons"] == 2 and [g["key"] for g in data["groups"]] == ["person-0", "person-1", "face-3"]
    p0 = data["groups"][0]
    assert [t["id"] for t in p0["tracks"]] == [0, 2] and p0["frames"] == 60
    assert p0["first"] == 0.0 and p0["last"] == pytest.approx(5.9)
    assert p0["series"]["t"] == pytest.approx(list(np.arange(60) / 10))  # both tracks in one series
    assert p0["series"]["valence"][0] == pytest.approx(0.8) and p0["series"]["valence"][-1] == pytest.approx(-0.6)
    assert "<h2>People</h2>" in html
    # summary: a row per person, and under person 0 (two tracks) a row per track
    body = re.search(r"<tbody>(.*?)</tbody>", html[html.index("id='summary-table'"):], re.S).group(1)
    rows = re.findall(r"<tr class='seek (group|track)' data-group='([^']+)'", body)
    assert rows == [("group", "person-0"), ("track", "person-0"), ("track", "person-0"), ("group", "person-1"),
                    ("group", "face-3")]
    p0_row = re.search(r"<tr class='seek group' data-group='person-0'.*?</tr>", body).group(0)
    assert "<td>faces 0, 2</td>" in p0_row and "<td class='num'>60</td>" in p0_row


# ---- (f) segments as a timeline ----------------------------------------------------------------------------

def test_segments_per_person_reach_the_page(clip, tmp_path):
    res = people_results(clip, switch=30)
    html = build_report(res, tmp_path / "r.html", options=ReportOptions(video_mode="none", **FAST)).read_text()
    groups = {g["key"]: g for g in page_data(html)["groups"]}
    # person 0: happy (track 0) then sad (track 2), meeting at 3.0 s; the segments module decides the bounds
    assert [s[2] for s in groups["person-0"]["segments"]] == ["happy", "sad"]
    assert groups["person-0"]["segments"][0][:2] == [0.0, 3.0] and groups["person-0"]["segments"][1][:2] == [3.0, 6.0]
    assert [s[2] for s in groups["person-1"]["segments"]] == ["neutral"]
    assert [s[2] for s in groups["face-3"]["segments"]] == ["angry"]  # a track without a person has its own
    expected = emotion_segments(res.frames[res.frames["person_id"] == 0], res.classes)
    assert [[s[0], s[1], s[2]] for s in groups["person-0"]["segments"]] == \
        [[r.start_s, r.end_s, r.emotion] for r in expected.itertuples()]
    assert page_data(html)["segment_params"]["min_duration_s"] == 0.5


# ---- (g) the WebVTT subtitles on the player ----------------------------------------------------------------

@needs_x264
def test_subtitles_are_attached_to_the_player(clip, tmp_path):
    res = people_results(clip, switch=30)
    html = build_report(res, tmp_path / "r.html", options=ReportOptions(video_mode="proxy", **FAST)).read_text()
    assert re.search(r"<video id='player'[^>]*><track kind='subtitles' srclang='en' label='emotion segments' "
                     r"default src='data:text/vtt;base64,[^']+'></video>", html)
    vtt = _track_vtt(html)
    assert vtt.startswith("WEBVTT\n")
    cues = re.findall(r"(\d\d:\d\d:\d\d\.\d{3}) --> (\d\d:\d\d:\d\d\.\d{3})\n(.+)", vtt)
    assert cues[0] == ("00:00:00.000", "00:00:01.000", "person 0: happy · person 1: neutral")
    assert cues[1] == ("00:00:01.000", "00:00:02.000", "face 3: angry · person 0: happy · person 1: neutral")
    assert ("00:00:03.000", "00:00:06.000", "person 0: sad · person 1: neutral") in cues
    # without a player there is nothing to attach it to
    html = build_report(res, tmp_path / "n.html", options=ReportOptions(video_mode="none", **FAST)).read_text()
    assert "<track" not in html


@needs_x264
def test_subtitle_times_follow_a_trimmed_proxy(clip, tmp_path):
    res = restrict(people_results(clip, switch=30), 2.0, 5.0)
    html = build_report(res, tmp_path / "r.html", options=ReportOptions(video_mode="proxy", **FAST)).read_text()
    times = re.findall(r"(\d\d:\d\d:\d\d\.\d{3}) --> (\d\d:\d\d:\d\d\.\d{3})", _track_vtt(html))
    # analysis times 2..5 s are proxy times 0..3 s; person 0 turns sad at 3.0 s = 1.0 s in the proxy
    assert times[0][0] == "00:00:00.000" and times[-1][1] == "00:00:03.000"
    assert ("00:00:00.000", "00:00:01.000") in times and ("00:00:01.000", "00:00:03.000") in times


@needs_x264
def test_track_has_the_cues_of_the_webvtt_export(clip, tmp_path):
    res = people_results(clip, switch=30)
    res.frames = res.frames[res.frames["face_id"] != 3].reset_index(drop=True)  # persons only
    html = build_report(res, tmp_path / "r.html", options=ReportOptions(video_mode="proxy", **FAST)).read_text()
    exported = subtitle_cues(emotion_segments(res.frames, res.classes))  # what --export webvtt writes
    in_report = re.findall(r"(\d\d):(\d\d):(\d\d\.\d{3}) --> (\d\d):(\d\d):(\d\d\.\d{3})\n(.+)", _track_vtt(html))
    as_seconds = [(int(a) * 3600 + int(b) * 60 + float(c), int(d) * 3600 + int(e) * 60 + float(f), text)
                  for a, b, c, d, e, f, text in in_report]
    assert as_seconds == exported and len(exported) == 2


def _streams(path):
    """(video frame times, audio (first, end) seconds, audio codec) of an MP4."""
    with av.open(str(path)) as c:
        times = [float(f.time) for f in c.decode(video=0)]
    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        packets = [p for p in c.demux(a) if p.pts is not None and p.size]
        first = float(packets[0].pts * a.time_base)
        end = float((packets[-1].pts + packets[-1].duration) * a.time_base)
        return times, (first, end), a.codec_context.name


@needs_x264
@pytest.mark.parametrize("kind", ["copied", "transcoded"])
def test_trimmed_proxy_keeps_the_audio_of_the_range(kind, tmp_path):
    from video_fixtures import shared_video

    from vidaffect.report.proxy import encode_proxy

    if kind == "copied":  # MP3 in MP4: packets copied and moved
        source, (t0, t1), n = shared_video("single_face.mp4"), (1.0, 2.0), 30
    else:                 # 16 kHz PCM in MKV: transcoded to AAC
        source, (t0, t1), n = make_video(tmp_path / "a.mkv", n=60, fps=10, audio=True), (2.0, 5.0), 30
    stats: dict = {}
    out = encode_proxy(source, tmp_path / "p.mp4", height=60, time_range=(t0, t1), stats=stats)
    times, (a_first, a_end), codec = _streams(out)
    assert stats["offset_s"] == pytest.approx(t0, abs=0.02)
    assert len(times) == n and times[0] == pytest.approx(0.0, abs=1e-6)
    # (an AAC encoder's priming samples put its first packet up to 1024 samples before 0)
    assert -0.07 <= a_first <= 0.05 and a_end == pytest.approx(t1 - t0, abs=0.1)
    assert codec.startswith("mp3" if kind == "copied" else "aac")
