"""The HTML report and the index page, on synthetic videos and results (no model)."""
import base64
import io
import json
import re
import time
from urllib.parse import unquote

import av
import numpy as np
import pytest
from PIL import Image
from report_synth import BACKGROUND, FACE_COLOR, long_results, make_results, make_video

from vidaffect.errors import VidaffectError
from vidaffect.report import ReportOptions, build_index, build_report


def page_data(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="vidaffect-data">(.*?)</script>', html, re.S)
    assert m, "data block missing"
    return json.loads(m.group(1))


def video_src(html: str) -> str | None:
    m = re.search(r"<video id='player'[^>]* src='([^']*)'", html)
    return m.group(1) if m else None


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    d = tmp_path_factory.mktemp("clip") / "videos"
    d.mkdir()
    return make_video(d / "clip.mp4", n=20, fps=10)


def test_report_is_self_contained_and_links_the_video(clip, tmp_path):
    res = make_results(clip, n=20, faces=2)
    out = build_report(res, tmp_path / "out" / "clip.report.html", options=ReportOptions(video_mode="link",
                                                                                            static_plots=False))
    html = out.read_text(encoding="utf-8")
    # nothing fetched from the network: no external scripts, styles, images or fonts
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=|@import|url\(http", html)
    assert not re.search(r"""(src|href)=['"]?(https?:)?//""", html)
    src = video_src(html)
    assert src and not src.startswith(("/", "file:", "http"))
    assert (out.parent / unquote(src)).resolve() == clip.resolve()
    data = page_data(html)
    assert [g["key"] for g in data["groups"]] == ["face-0", "face-1"]  # no person ids: one group per track
    assert [[t["id"] for t in g["tracks"]] for g in data["groups"]] == [[0], [1]]
    assert data["classes"] == res.classes and set(data["colors"]) >= set(res.classes)
    face0 = data["groups"][0]
    assert face0["series"]["t"] == pytest.approx(list(np.arange(20) / 10))
    assert face0["series"]["valence"][5] == pytest.approx(0.8 * np.sin(1.0), abs=1e-3)
    assert data["t_end"] == pytest.approx(2.0)
    assert "summary-table" in html and html.count("<tr class='seek group'") == 2


def test_thumbnails_are_crops_of_the_face_boxes(clip, tmp_path):
    res = make_results(clip, n=20)
    out = build_report(res, tmp_path / "r.html", options=ReportOptions(video_mode="none", thumbnails=4,
                                                                       static_plots=False))
    html = out.read_text(encoding="utf-8")
    assert video_src(html) is None and "id='no-video'" in html
    thumbs = page_data(html)["groups"][0]["tracks"][0]["thumbs"]
    assert [t["t"] for t in thumbs] == pytest.approx([0.0, 0.6, 1.3, 1.9])
    for t in thumbs:
        assert t["src"].startswith("data:image/jpeg;base64,")
        img = np.asarray(Image.open(io.BytesIO(base64.b64decode(t["src"].split(",", 1)[1]))).convert("RGB"))
        assert img.shape == (72, 72, 3)
        centre = img[30:42, 30:42].reshape(-1, 3).mean(axis=0)
        corner = img[:4, :4].reshape(-1, 3).mean(axis=0)
        assert np.abs(centre - FACE_COLOR).max() < 30          # the red "face" is in the middle
        assert np.abs(corner - BACKGROUND).max() < 30          # with the background around it


def test_proxy_mode_embeds_a_small_h264_copy_with_the_same_frames(clip, tmp_path):
    if "libx264" not in av.codecs_available:
        pytest.skip("this PyAV build has no libx264")
    res = make_results(clip, n=20)
    out = build_report(res, tmp_path / "r.html", options=ReportOptions(video_mode="proxy", thumbnails=0,
                                                                       static_plots=False, proxy_height=60))
    src = video_src(out.read_text(encoding="utf-8"))
    assert src.startswith("data:video/mp4;base64,")
    proxy = tmp_path / "proxy.mp4"
    proxy.write_bytes(base64.b64decode(src.split(",", 1)[1]))
    with av.open(str(proxy)) as c:
        s = c.streams.video[0]
        frames = [f for f in c.decode(s)]
        assert s.codec_context.name == "h264" and (s.height, s.width) == (60, 80)
    assert len(frames) == 20
    assert [round(float(f.time), 3) for f in frames] == pytest.approx(list(np.arange(20) / 10))


def test_auto_mode_proxies_videos_browsers_cannot_play(clip, tmp_path):
    # MPEG-4 Part 2 does not play in browsers: auto embeds a proxy (H.264 sources are linked: browser test)
    res = make_results(clip, n=20)
    html = build_report(res, tmp_path / "a.html", options=ReportOptions(thumbnails=0, static_plots=False)).read_text()
    assert video_src(html).startswith("data:video/mp4;base64,")
    with pytest.raises(VidaffectError, match="video mode"):
        build_report(res, tmp_path / "b.html", options=ReportOptions(video_mode="bogus"))


def test_missing_video_gives_a_charts_only_report(tmp_path):
    res = make_results(tmp_path / "gone.mp4", n=20)
    html = build_report(res, tmp_path / "r.html").read_text(encoding="utf-8")
    assert video_src(html) is None and "Source video not found" in html
    assert len(page_data(html)["groups"][0]["series"]["t"]) == 20
    assert "data:image/png;base64," in html  # static plots from the plotting module


def test_gaps_and_person_ids_reach_the_page(clip, tmp_path):
    res = make_results(clip, n=20, faces=2, gap=(8, 12))
    res.frames["person_id"] = np.where(res.frames["face_id"] == 1, "alice", None)
    html = build_report(res, tmp_path / "r.html", options=ReportOptions(video_mode="none", thumbnails=0,
                                                                       static_plots=False)).read_text()
    groups = {g["key"]: g for g in page_data(html)["groups"]}
    assert set(groups) == {"face-0", "person-alice"}  # face 0 has no person: a group of its own
    assert groups["face-0"]["spans"] == [[0.0, 0.7], [1.2, 1.9]]
    assert groups["face-0"]["series"]["starts"] == [0, 8]
    assert groups["person-alice"]["label"] == "alice" and groups["face-0"]["label"] == "face 0"
    assert groups["person-alice"]["tracks_text"] == "face 1" and groups["person-alice"]["person"]
    assert re.search(r"<tr class='seek group' data-group='person-alice'[^>]*><td><span[^>]*></span>alice</td>"
                     r"<td>face 1</td>", html)


def test_ten_minute_video_stays_small(tmp_path):
    res = long_results(minutes=10, fps=30, faces=2)
    t0 = time.perf_counter()
    out = build_report(res, tmp_path / "long.html", options=ReportOptions(video_mode="none", static_plots=False,
                                                                          max_points=800))
    took = time.perf_counter() - t0
    data = page_data(out.read_text())
    assert all(len(g["series"]["t"]) <= 800 for g in data["groups"])
    assert out.stat().st_size < 600_000
    assert took < 20  # generous: the point is that 36,000 rows do not explode


def test_index_lists_every_result_with_links(clip, tmp_path):
    out = tmp_path / "results"
    for name, faces in [("a.mp4", 1), ("b.mp4", 2)]:
        res = make_results(clip.parent / name, n=20, faces=faces)
        res.save(out, ("csv",), plot=False)
    build_report(make_results(clip.parent / "a.mp4", n=20), out / "a.report.html",
                 options=ReportOptions(video_mode="none", thumbnails=0, static_plots=False))
    index = build_index(out)
    html = index.read_text(encoding="utf-8")
    rows = re.findall(r"<tr><td data-v='([^']+)'>(.*?)</td>", html)
    assert [r[0] for r in rows] == ["a.mp4", "b.mp4"]
    assert "href='a.report.html'" in rows[0][1]            # the report when there is one
    assert "href='b.frames.csv'" in rows[1][1]             # else the frames table
    b_row = html[html.index("data-v='b.mp4'"):]
    assert re.search(r"<td class='num'>2</td>", b_row)     # two face tracks
    for href in re.findall(r"href='([^']+)'", html):
        assert (out / unquote(href)).exists(), href


def test_video_without_faces(tmp_path):
    res = make_results(tmp_path / "v.mp4", n=20, gap=(0, 20))  # face 0 absent throughout
    html = build_report(res, tmp_path / "r.html", options=ReportOptions(video_mode="none")).read_text()
    data = page_data(html)
    assert data["groups"] == [] and data["face_tracks"] == 0
    assert "No face was found." in html and "<h2>Plots</h2>" not in html
