"""Cost of the report outputs: HTML report of a 10-minute video (build, size, browser render and cursor
update), and the annotated video / proxy / thumbnails on a real clip.

    python benchmarks/report_speed.py [--minutes 10] [--faces 4] [--video PATH] [--no-browser]

The browser part needs Playwright and the system chromium (/usr/bin/chromium).
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from vidaffect.report import ReportOptions, annotate_video, build_report
from vidaffect.results.results import Results

DEFAULT_VIDEO = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "videos" / "WolfgangLanger_Pexels.mp4"
CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def long_results(minutes: float, faces: int, fps: float = 30.0) -> Results:
    """``minutes`` of 30 fps results with ``faces`` faces always on screen and noisy probabilities."""
    n = int(minutes * 60 * fps)
    t = np.arange(n) / fps
    rng = np.random.default_rng(0)
    parts = []
    for f in range(faces):
        p = rng.dirichlet(np.ones(len(CLASSES)), size=n)
        cols = {"frame": np.arange(n), "time_s": t, "face_id": f, "x1": 10.0, "y1": 10.0, "x2": 60.0, "y2": 60.0,
                "score": 0.9, "faces_in_frame": faces, **{c: p[:, i] for i, c in enumerate(CLASSES)},
                "emotion": np.array(CLASSES)[p.argmax(1)], "valence": np.sin(t / 9 + f), "arousal": np.cos(t / 7 + f)}
        parts.append(pd.DataFrame(cols))
    frames = pd.concat(parts).sort_values(["frame", "face_id"]).reset_index(drop=True)
    return Results(frames, CLASSES, {"video": {"path": "long.mp4", "duration_s": n / fps, "fps": fps,
                                               "width": 640, "height": 360}, "classes": CLASSES})


def browser_numbers(page_path: Path) -> tuple[float, float]:
    """(ms from navigation start to the end of the load event, mean ms per cursor update)."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(profile, executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                                   headless=True, args=CHROMIUM_ARGS,
                                                   viewport={"width": 1280, "height": 900})
        page = ctx.new_page()
        page.goto(page_path.resolve().as_uri())
        page.wait_for_load_state("load")
        load_ms = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
        per_update = page.evaluate("""() => { const t0 = performance.now();
            for (let i = 0; i < 200; i++) { window.vidaffectSeek((i * 7.31) % 600); }
            return (performance.now() - t0) / 200; }""")
        ctx.close()
    return float(load_ms), float(per_update)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="length of the synthetic results (default: %(default)s)")
    ap.add_argument("--faces", type=int, default=4, help="faces on screen the whole time (default: %(default)s)")
    ap.add_argument("--video", default=str(DEFAULT_VIDEO), help="real clip for the video outputs (default: WolfgangLanger_Pexels.mp4)")
    ap.add_argument("--no-browser", action="store_true", help="skip the Chromium measurements")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        res = long_results(args.minutes, args.faces)
        t0 = time.perf_counter()
        page = build_report(res, tmp / "long.report.html", options=ReportOptions(video_mode="none"))
        rows.append((f"report build, {args.minutes:g} min x {args.faces} faces ({len(res.frames)} rows)",
                     f"{time.perf_counter() - t0:.2f} s", f"{page.stat().st_size / 1e3:.0f} kB"))
        if not args.no_browser:
            load_ms, update_ms = browser_numbers(page)
            rows.append(("chromium: page load incl. drawing the charts", f"{load_ms:.0f} ms", ""))
            rows.append(("chromium: one cursor update (all charts, readouts)", f"{update_ms:.2f} ms", ""))
        video = Path(args.video)
        if video.exists():
            from vidaffect.pipeline.analyzer import analyze
            from vidaffect.report.proxy import proxy_data_uri
            from vidaffect.report.thumbnails import face_thumbnails

            real = analyze(video)
            n = real.metadata["frames_analysed"]
            t0 = time.perf_counter()
            annotate_video(video, real, tmp / "a.mp4")
            dt = time.perf_counter() - t0
            rows.append((f"annotate {video.name} ({n} frames)", f"{dt:.2f} s", f"{n / dt:.0f} frames/s"))
            t0 = time.perf_counter()
            uri, _ = proxy_data_uri(video)
            dt = time.perf_counter() - t0
            rows.append(("240p proxy (embedded)", f"{dt:.2f} s", f"{len(uri) / 1e3:.0f} kB base64"))
            t0 = time.perf_counter()
            face_thumbnails(video, real.frames, per_face=10)
            rows.append(("10 thumbnails per face", f"{time.perf_counter() - t0:.2f} s", ""))
            t0 = time.perf_counter()
            page = build_report(real, tmp / "real.report.html", video=video)
            rows.append((f"full report of {video.name} (link)", f"{time.perf_counter() - t0:.2f} s",
                         f"{page.stat().st_size / 1e3:.0f} kB"))
    w = max(len(r[0]) for r in rows)
    print(f"{'step':<{w}}  {'time':>10}  note")
    for name, t, note in rows:
        print(f"{name:<{w}}  {t:>10}  {note}")


if __name__ == "__main__":
    main()
