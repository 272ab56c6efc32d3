"""The report in a real headless Chromium (Debian's ``chromium`` driven by Playwright): it loads without
console errors, the charts render, clicking a chart or a thumbnail seeks the video, the cursor follows
playback, the player accepts the WebVTT subtitles track, playback and axes keep to the analysed range,
persons are shown with their tracks.  Screenshots go to ``test-artifacts/report/``."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from report_synth import make_h264, make_results, make_video, people_results, restrict

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright; "
                                                               "the browser is the system chromium)")

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "report"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MARGIN_LEFT, MARGIN_RIGHT = 64, 10  # the plot area of every time chart (report.js: M)

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="chromium not found (apt-get install -y chromium)")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with sync_api.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport={"width": 1280, "height": 900})
        yield ctx
        ctx.close()


def open_page(browser, path: Path):
    """Open ``path`` (file://); return the page and the list its console errors are collected in."""
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")
    return page, errors


def wait_video_ready(page):
    page.wait_for_function("() => document.getElementById('player').readyState >= 1", timeout=20_000)


def time_range(page) -> tuple[float, float]:
    """The analysed range the page's time axes span."""
    return tuple(page.evaluate("JSON.parse(document.getElementById('vidaffect-data').textContent).range"))


def click_at_time(chart, t: float, t_end: float, t_start: float = 0.0) -> None:
    """Click ``chart`` (an SVG time chart spanning ``t_start``..``t_end``) where time ``t`` is drawn."""
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    x = MARGIN_LEFT + (box["width"] - MARGIN_LEFT - MARGIN_RIGHT) * (t - t_start) / (t_end - t_start)
    chart.click(position={"x": x, "y": box["height"] / 2})


def current_time(page) -> float:
    return page.evaluate("document.getElementById('player').currentTime")


def cursor_time(page, chart_selector: str, t_end: float, t_start: float = 0.0) -> float:
    """The time under the cursor line of the first chart matching the selector."""
    x, w = page.evaluate(f"""() => {{ const s = document.querySelector("{chart_selector}");
        return [parseFloat(s.querySelector('line.cursor').getAttribute('x1')), parseFloat(s.getAttribute('width'))]; }}""")
    return t_start + (x - MARGIN_LEFT) / (w - MARGIN_LEFT - MARGIN_RIGHT) * (t_end - t_start)


def wait_cues(page) -> list[str]:
    """The cue texts of the player's first text track, once the browser has loaded and parsed it."""
    page.wait_for_function("() => { const t = document.getElementById('player').textTracks[0];"
                           " return t && t.cues && t.cues.length > 0; }", timeout=10_000)
    return page.evaluate("[...document.getElementById('player').textTracks[0].cues].map(c => c.text)")


def cue_times(page) -> list[list[float]]:
    return page.evaluate("[...document.getElementById('player').textTracks[0].cues]"
                         ".map(c => [c.startTime, c.endTime])")


def assert_rendered(page, selector: str, count: int | None = None, timeout_s: float = 15.0) -> None:
    """Every element matching ``selector`` (``count`` of them, if given) is laid out with a non-zero size.

    Charts are drawn by script after load and redrawn when the video's metadata arrives, so the check is
    polled until it holds (or ``timeout_s`` passes), then asserted on the last state seen."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        loc = page.locator(selector)
        n = loc.count()
        boxes = [loc.nth(i).bounding_box() for i in range(n)]
        sized = all(b and b["width"] > 0 and b["height"] > 0 for b in boxes)
        if ((n > 0 if count is None else n == count) and sized) or time.monotonic() > deadline:
            break
        page.wait_for_timeout(100)
    assert n > 0 if count is None else n == count, (selector, n)
    assert sized, (selector, boxes)


@pytest.mark.integration
def test_real_report_renders_and_seeks(browser, analyzed_dir):
    page, errors = open_page(browser, analyzed_dir / "single_face.report.html")
    wait_video_ready(page)
    t_end = page.evaluate("JSON.parse(document.getElementById('vidaffect-data').textContent).t_end")
    for sel in ("svg.va-chart", "svg.emotion-chart", "svg.lanes-chart", "svg.segments-chart", "svg.circumplex-chart",
                "#summary-table", "#readout"):
        assert_rendered(page, sel)
    # the WebVTT subtitles of the emotion segments: Chromium accepts the <track> and parses its cues
    cues = wait_cues(page)
    assert len(cues) > 0 and all(re.fullmatch(r"(person \d+|face \d+): \w+( · .+)?", c) for c in cues), cues
    assert page.locator("svg.segments-chart rect.segment").count() >= 1
    assert_rendered(page, ".thumbs img", 10)
    assert page.evaluate("[...document.querySelectorAll('.thumbs img')].every(i => i.naturalWidth > 0)")
    assert page.locator("svg.va-chart path.series-valence").get_attribute("d").count("L") > 50
    assert page.locator("svg.emotion-chart path[class^=area-]").count() == 7

    click_at_time(page.locator("svg.va-chart").first, 1.5, t_end)
    page.wait_for_function("() => Math.abs(document.getElementById('player').currentTime - 1.5) < 0.05")
    assert cursor_time(page, "svg.emotion-chart", t_end) == pytest.approx(1.5, abs=0.05)
    assert page.locator(".readout").first.inner_text().startswith("at the cursor: valence ")
    assert re.fullmatch(r"[+−]\d\.\d\d", page.locator("#readout tbody tr .r-val").first.inner_text())

    thumb = page.locator(".thumbs img").nth(3)
    t_thumb = float(thumb.get_attribute("data-t"))
    thumb.click()
    page.wait_for_function(f"() => Math.abs(document.getElementById('player').currentTime - {t_thumb}) < 0.05")

    # the cursor follows playback
    page.evaluate("() => { const v = document.getElementById('player'); v.muted = true; v.currentTime = 0.2; }")
    page.wait_for_function("() => Math.abs(document.getElementById('player').currentTime - 0.2) < 0.05")
    page.evaluate("document.getElementById('player').play()")
    page.wait_for_function("() => document.getElementById('player').currentTime > 0.8", timeout=10_000)
    page.evaluate("document.getElementById('player').pause()")
    page.wait_for_timeout(200)
    assert cursor_time(page, "svg.va-chart", t_end) == pytest.approx(current_time(page), abs=0.1)

    # the original/annotated switch keeps the position
    before = current_time(page)
    page.select_option("#source-select", index=1)
    page.wait_for_function("() => document.getElementById('player').src.endsWith('single_face.annotated.mp4') && "
                           "document.getElementById('player').readyState >= 1")
    page.wait_for_function(f"() => Math.abs(document.getElementById('player').currentTime - {before}) < 0.05")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(_artifact("single_face.report.png")), full_page=True)
    assert errors == []
    page.close()


def test_synthetic_two_face_report_with_proxy(browser, tmp_path):
    import av

    if "libx264" not in av.codecs_available:
        pytest.skip("this PyAV build has no libx264 for the proxy")
    from vidaffect.report import ReportOptions, build_index, build_report

    video = make_video(tmp_path / "clip.avi", n=30, fps=10)
    res = make_results(video, n=30, faces=2, gap=(10, 15))
    res.save(tmp_path, ("csv",), plot=False)
    out = build_report(res, tmp_path / "clip.report.html", options=ReportOptions(video_mode="proxy"),
                       index_href="index.html")
    page, errors = open_page(browser, out)
    wait_video_ready(page)
    assert page.locator(".card.group").count() == 2
    assert_rendered(page, "svg.va-chart", 2)
    assert_rendered(page, "svg.emotion-chart", 2)
    assert_rendered(page, ".plots img", 2)
    click_at_time(page.locator("svg.emotion-chart").nth(1), 2.2, 3.0)
    page.wait_for_function("() => Math.abs(document.getElementById('player').currentTime - 2.2) < 0.06")
    page.wait_for_timeout(100)
    # face 0 is absent from 1.0 to 1.5 s: its readout says so there
    page.locator("#summary-table tbody tr").first.click()  # face 0, first seen at 0 s
    page.wait_for_function("() => document.getElementById('player').currentTime < 0.05")
    page.evaluate("window.vidaffectSeek(1.2)")
    assert page.locator("#group-face-0 .readout-values").inner_text() == "not on screen"
    assert page.locator("#readout tr[data-group='face-0'] .r-seg").inner_text() == "not on screen"
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(_artifact("synthetic.report.png")), full_page=True)
    assert errors == []
    page.close()

    index = build_index(tmp_path)
    page, errors = open_page(browser, index)
    assert page.locator("#videos tbody tr").count() == 1
    page.locator("#videos th").nth(1).click()  # sorting does not break anything
    page.screenshot(path=str(_artifact("index.png")), full_page=True)
    assert errors == []
    page.close()


def _artifact(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


def test_ten_minute_report_renders_downsampled(browser, tmp_path):
    from report_synth import long_results

    from vidaffect.report import ReportOptions, build_report

    out = build_report(long_results(minutes=10, fps=30, faces=2), tmp_path / "long.report.html",
                       options=ReportOptions(video_mode="none", static_plots=False))
    page, errors = open_page(browser, out)
    assert_rendered(page, "svg.va-chart", 2)
    points = page.evaluate("[...document.querySelectorAll('svg.va-chart path.series-valence')]"
                           ".map(p => (p.getAttribute('d').match(/[ML]/g) || []).length)")
    assert len(points) == 2 and all(200 < n <= 800 for n in points)
    page.evaluate("window.vidaffectSeek(300)")  # no video: the cursor still moves
    assert page.locator("#now-time").inner_text() == "5:00.00"
    assert errors == []
    page.close()


def test_report_without_faces_loads_cleanly(browser, tmp_path):
    from vidaffect.report import ReportOptions, build_report

    res = make_results(tmp_path / "v.mp4", n=20, gap=(0, 20))
    page, errors = open_page(browser, build_report(res, tmp_path / "r.html", options=ReportOptions(video_mode="none")))
    assert page.locator(".card.group").count() == 0 and "No face was found" in page.locator("#groups").inner_text()
    assert errors == []
    page.close()


def _play_until_paused(page, start: float) -> float:
    """Play from player time ``start`` until the page pauses the video; return where it stopped."""
    page.evaluate(f"() => {{ const v = document.getElementById('player'); v.muted = true; v.currentTime = {start}; }}")
    page.wait_for_function(f"() => Math.abs(document.getElementById('player').currentTime - {start}) < 0.05")
    page.evaluate("document.getElementById('player').play()")
    page.wait_for_function("() => document.getElementById('player').paused", timeout=10_000)
    return current_time(page)


def test_people_segments_subtitles_and_range_with_a_trimmed_proxy(browser, tmp_path):
    import av

    if "libx264" not in av.codecs_available:
        pytest.skip("this PyAV build has no libx264 for the proxy")
    from vidaffect.report import ReportOptions, annotate_video, build_report

    video = make_video(tmp_path / "clip.avi", n=60, fps=10)
    res = restrict(people_results(video, switch=30), 2.0, 5.0)   # an analysis of --start 2 --end 5
    annotated = annotate_video(video, res, tmp_path / "clip.annotated.mp4")  # the whole video, source times
    out = build_report(res, tmp_path / "clip.report.html", annotated=annotated,
                       options=ReportOptions(video_mode="proxy", thumbnails=3))
    assert out.read_text().count("data:video/mp4;base64,") == 1
    page, errors = open_page(browser, out)
    wait_video_ready(page)
    t0, t1 = time_range(page)
    assert (t0, t1) == (2.0, 5.0)
    assert page.evaluate("document.getElementById('player').duration") == pytest.approx(3.0, abs=0.11)

    # the subtitles: accepted, and timed for the proxy (analysis time 2.0 s is its time 0)
    assert wait_cues(page) == ["person 0: happy · person 1: neutral", "person 0: sad · person 1: neutral"]
    assert cue_times(page) == [[0.0, 1.0], [1.0, 3.0]]

    # persons with their tracks as sub-items; segments drawn as a timeline per person and beside the player
    assert page.locator(".card.group").count() == 2  # face 3 (1-2 s) is outside the analysed range
    assert page.locator("#group-person-0 .track").count() == 2
    assert page.locator("#group-person-0 .track-head").all_inner_texts()[0].startswith("face 0 · 2.00 s")
    emotions = page.locator("#group-person-0 svg.segments-chart rect.segment").evaluate_all(
        "rs => rs.map(r => r.getAttribute('data-emotion'))")
    assert emotions == ["happy", "sad"]
    assert page.locator("svg.lanes-chart rect.segment").count() == 3  # person 0: happy, sad; person 1: neutral
    assert_rendered(page, "svg.segments-chart", 2)

    # axes span the analysed range: a click at 4.0 s seeks the proxy to 2.0 s; nothing before 2.0 s is shown
    click_at_time(page.locator("#group-person-0 svg.va-chart"), 4.0, t1, t0)
    page.wait_for_function("() => Math.abs(document.getElementById('player').currentTime - 2.0) < 0.06")
    page.wait_for_timeout(100)
    assert page.locator("#now-time").inner_text() == "4.00 s"
    assert cursor_time(page, "#group-person-0 svg.emotion-chart", t1, t0) == pytest.approx(4.0, abs=0.05)
    row = page.locator("#readout tr[data-group='person-0']")
    assert row.locator(".r-seg").inner_text() == "sad" and row.locator(".r-top").inner_text() == "sad (70%)"
    assert row.locator(".r-val").inner_text() == "\u22120.60"
    page.evaluate("window.vidaffectSeek(0.5)")
    assert page.locator("#now-time").inner_text() == "2.00 s"  # held to the range

    # the annotated copy has the source's timeline: the position, the cues and the range follow the switch
    page.evaluate("window.vidaffectSeek(4.0)")
    page.select_option("#source-select", "annotated")
    page.wait_for_function("() => document.getElementById('player').src.endsWith('clip.annotated.mp4') && "
                           "Math.abs(document.getElementById('player').currentTime - 4.0) < 0.06")
    assert cue_times(page)[0][0] == pytest.approx(2.0)
    stopped = _play_until_paused(page, 4.7)
    assert 4.7 <= stopped <= 5.0 + 0.06  # playback stops at the end of the analysed range
    page.select_option("#source-select", "original")
    page.wait_for_function("() => document.getElementById('player').src.startsWith('data:video/mp4') && "
                           f"Math.abs(document.getElementById('player').currentTime - ({stopped} - 2.0)) < 0.06")
    assert cue_times(page)[0][0] == pytest.approx(0.0)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(_artifact("people.report.png")), full_page=True)
    assert errors == []
    page.close()


def test_linked_source_is_held_to_the_analysed_range(browser, tmp_path):
    import av

    if "libx264" not in av.codecs_available:
        pytest.skip("this PyAV build has no libx264")
    from vidaffect.report import ReportOptions, build_report

    video = make_h264(make_video(tmp_path / "src.avi", n=60, fps=10), tmp_path / "clip.mp4")
    res = restrict(make_results(video, n=60, faces=1), 2.0, 5.0)
    out = build_report(res, tmp_path / "clip.report.html", options=ReportOptions(video_mode="link", thumbnails=0))
    page, errors = open_page(browser, out)
    wait_video_ready(page)
    page.wait_for_function("() => Math.abs(document.getElementById('player').currentTime - 2.0) < 0.06")
    # the time axis starts at the range: its first tick is 2 s and none is before it
    ticks = page.locator("svg.va-chart text[text-anchor=middle]").evaluate_all("ts => ts.map(t => t.textContent)")
    assert ticks[0] in ("2 s", "2.0 s") and min(float(t.split()[0]) for t in ticks) == 2.0
    assert max(float(t.split()[0]) for t in ticks) == pytest.approx(5.0)
    assert "analysed 2.00–5.00 s of 6.00 s" in page.locator("#analysed-range").inner_text()
    assert wait_cues(page) == ["face 0: happy"]
    assert cue_times(page) == [[pytest.approx(2.0), pytest.approx(5.0)]]
    stopped = _play_until_paused(page, 4.7)
    assert 4.7 <= stopped <= 5.0 + 0.06
    page.evaluate("() => { document.getElementById('player').currentTime = 0.5; }")  # the native controls' seek
    page.wait_for_function("() => Math.abs(document.getElementById('player').currentTime - 2.0) < 0.06")
    assert errors == []
    page.close()
