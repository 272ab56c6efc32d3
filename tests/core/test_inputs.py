"""Every kind of input (issue 16, item 5): image files, folders of images, NumPy arrays, webcams, stream URLs.

Readers are checked frame by frame (indices, timestamps, pixels, colour order) without models; a few
analyses run the real pipeline on scikit-image's astronaut photograph (one face).  URLs are read from an
HTTP server on 127.0.0.1 in this process (no other network); there is no camera here, so the webcam is
tested for its one-line errors only.
"""
from __future__ import annotations

import functools
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from video_fixtures import VIDEOS, numbered_frames, write_video
from vidaffect.errors import VideoError
from vidaffect.video import (ArrayReader, ImageFolderReader, ImageReader, PyAVReader, StreamReader, open_video,
                             source_kind, source_name)
from vidaffect.video.stream_backend import redact_url, url_name


def write_image(path: Path, rgb: np.ndarray) -> Path:
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)), path
    return path


def colour_frame(value: int, w: int = 40, h: int = 30) -> np.ndarray:
    """A frame whose left column is pure red (catches RGB/BGR mix-ups) and whose rest is grey ``value``."""
    img = np.full((h, w, 3), value, np.uint8)
    img[:, :4] = (255, 0, 0)
    return img


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and text, text
    return text


# ----- dispatch -----
def test_source_kinds_and_names(tmp_path):
    img = write_image(tmp_path / "photo.JPG", colour_frame(100))
    assert source_kind(img) == "image" and source_name(img) == "photo"
    assert source_kind(str(tmp_path)) == "images" and source_name(tmp_path) == tmp_path.name
    assert source_kind(tmp_path / "clip.mp4") == "video" and source_name(tmp_path / "clip.mp4") == "clip"
    assert source_kind(np.zeros((4, 4, 3), np.uint8)) == "array" and source_name(np.zeros((1, 4, 4, 3), np.uint8)) == "array"
    assert source_kind(0) == "webcam" and source_kind(np.int64(2)) == "webcam" and source_name(1) == "webcam1"
    assert source_kind("webcam:3") == "webcam" and source_name("WEBCAM:3") == "webcam3"
    for url in ("rtsp://cam/live", "RTMP://x/y", "http://h/v.mp4", "https://h/v.mp4"):
        assert source_kind(url) == "stream"
    assert source_name("rtsp://admin:pw@cam.local:554/Streaming/Channels/101?tok=1") == \
        "cam.local_554_Streaming_Channels_101"
    assert url_name("https://example.org/videos/clip%20one.mp4") == "example.org_videos_clip_one"
    assert url_name("http://[::1]:8000/") == "1_8000"


@pytest.mark.parametrize("source, message", [
    ([1, 2, 3], "cannot analyse a list of 3 item(s)"),
    ({"a": 1}, "cannot analyse a dict"),
    (None, "cannot analyse a NoneType"),
    (1.5, "cannot analyse a float"),
    (True, "cannot analyse a bool"),
    ("webcam:first", "a webcam is webcam:N"),
    ("ftp://user:secret@host/clip.mp4", "unsupported URL scheme 'ftp'"),
    ("file:///tmp/clip.mp4", "unsupported URL scheme 'file'"),
])
def test_unsupported_sources_are_one_line_errors(source, message):
    with pytest.raises(VideoError) as exc:
        open_video(source)
    text = one_line(exc)
    assert message in text and "secret" not in text
    if message.startswith("cannot analyse"):  # says what is accepted
        assert "NumPy array" in text and "webcam" in text and "rtsp://" in text


def test_vidaffect_analyze_refuses_bad_sources_before_loading_models(monkeypatch):
    import vidaffect
    from vidaffect.pipeline import analyzer

    def no_models(*a, **k):
        raise AssertionError("models loaded for an input that no backend takes")

    monkeypatch.setattr(analyzer, "Analyzer", no_models)
    for source, message in [(np.zeros((8, 8, 3), np.float32), "pixels must be uint8 RGB, got float32"),
                            (np.zeros((8, 8), np.uint8), "grey image"), (True, "cannot analyse a bool"),
                            ("rtmpx://h/x", "unsupported URL scheme")]:
        with pytest.raises(VideoError, match=re.escape(message)):
            vidaffect.analyze(source)


# ----- image files -----
@pytest.mark.parametrize("ext", ["png", "bmp", "tiff", "webp", "ppm"])
def test_lossless_image_is_one_rgb_frame(tmp_path, ext):
    rgb = colour_frame(90)
    path = write_image(tmp_path / f"still.{ext}", rgb) if ext != "webp" else tmp_path / "still.webp"
    if ext == "webp":
        ok, data = cv2.imencode(".webp", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_WEBP_QUALITY, 101])
        path.write_bytes(data.tobytes())
    reader = open_video(path)
    assert isinstance(reader, ImageReader) and reader.stills
    assert (reader.info.kind, reader.info.name, reader.info.width, reader.info.height) == ("image", "still", 40, 30)
    frames = list(reader)
    assert [(f.index, f.time_s) for f in frames] == [(0, 0.0)]
    np.testing.assert_array_equal(frames[0].image, rgb)  # RGB order: the red column stays red
    assert list(open_video(path, start=0.5)) == []  # --start after the image's 0 s: nothing


def test_jpeg_exif_orientation_is_applied(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    rgb = colour_frame(128, w=40, h=20)
    im = Image.fromarray(rgb)
    exif = im.getexif()
    exif[0x0112] = 6  # stored landscape, shown rotated 90 degrees clockwise
    im.save(tmp_path / "phone.jpg", "JPEG", exif=exif.tobytes(), quality=95)
    reader = open_video(tmp_path / "phone.jpg")
    assert (reader.info.width, reader.info.height) == (20, 40)
    img = next(iter(reader)).image
    assert img.shape == (40, 20, 3)
    assert img[:4, :, 0].mean() > 200 and img[-10:, :, 0].mean() < 160  # the red column is now on top


@pytest.mark.parametrize("content, message", [(b"", "empty file"), (b"not an image" * 10, "not a readable image")])
def test_bad_image_file_is_a_one_line_error(tmp_path, content, message):
    (tmp_path / "bad.png").write_bytes(content)
    with pytest.raises(VideoError) as exc:
        open_video(tmp_path / "bad.png")
    assert message in one_line(exc) and "bad.png" in str(exc.value)


def test_image_bytes_named_like_a_video_are_refused_with_a_hint(tmp_path):
    ok, png = cv2.imencode(".png", colour_frame(50))
    (tmp_path / "photo.mp4").write_bytes(png.tobytes())
    with pytest.raises(VideoError) as exc:
        open_video(tmp_path / "photo.mp4")
    assert "still image" in one_line(exc) and "image extension" in str(exc.value)


# ----- folders of images -----
def image_folder(tmp_path: Path, n: int = 12) -> Path:
    folder = tmp_path / "shots"
    folder.mkdir()
    for i in range(n):
        write_image(folder / f"img{i}.png", colour_frame(10 * i))
    (folder / "notes.txt").write_text("not an image")
    write_image(folder / ".hidden.png", colour_frame(255))
    (folder / "sub").mkdir()
    write_image(folder / "sub" / "img99.png", colour_frame(250))
    return folder


def test_folder_is_a_sequence_in_natural_order_at_image_fps(tmp_path):
    folder = image_folder(tmp_path)
    reader = open_video(folder, image_fps=4)
    assert isinstance(reader, ImageFolderReader) and reader.stills
    info = reader.info
    assert (info.kind, info.name, info.frame_count, info.fps, info.duration_s) == ("images", "shots", 12, 4.0, 3.0)
    frames = list(reader)
    assert [f.index for f in frames] == list(range(12))  # img2 before img10; no .hidden, sub/ or notes.txt
    assert [f.time_s for f in frames] == [i / 4 for i in range(12)]
    assert [int(f.image[:, 10:].mean()) for f in frames] == [10 * i for i in range(12)]
    np.testing.assert_array_equal(frames[3].image, colour_frame(30))
    # the time options choose images by these timestamps, as they choose a video's frames
    assert [f.index for f in open_video(folder, image_fps=4, start=1.0, end=2.0)] == [4, 5, 6, 7]
    assert [f.index for f in open_video(folder, image_fps=4, fps=2)] == [0, 2, 4, 6, 8, 10]
    assert [f.time_s for f in open_video(folder)] == [float(i) for i in range(12)]  # default: 1 image a second


def test_folder_images_may_differ_in_size_and_bad_ones_are_skipped(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    write_image(folder / "a.png", colour_frame(10, 40, 30))
    write_image(folder / "b.jpg", colour_frame(20, 64, 48))
    (folder / "c.png").write_bytes(b"broken")
    write_image(folder / "d.png", colour_frame(40, 40, 30))
    reader = open_video(folder)
    frames = list(reader)
    assert [(f.index, f.image.shape) for f in frames] == [(0, (30, 40, 3)), (1, (48, 64, 3)), (3, (30, 40, 3))]
    assert reader.damaged == [{"start_s": 2.0, "end_s": 2.0, "packets": 1, "error": "not a readable image",
                               "file": "c.png"}]
    with pytest.raises(VideoError, match="c.png: not a readable image"):
        list(open_video(folder, strict=True))


@pytest.mark.parametrize("setup, kwargs, message", [
    (lambda d: (d / "x.txt").write_text("x"), {}, "no image files"),
    (lambda d: (d / "x.png").write_bytes(b"junk"), {}, "none of its 1 image file(s) can be read"),
    (lambda d: write_image(d / "x.png", colour_frame(1)), {"image_fps": 0}, "--image-fps must be a positive"),
    (lambda d: write_image(d / "x.png", colour_frame(1)), {"image_fps": float("nan")}, "--image-fps must be a positive"),
    (lambda d: write_image(d / "x.png", colour_frame(1)), {"fps": -1}, "--fps must be positive"),
])
def test_folder_errors_are_one_line(tmp_path, setup, kwargs, message):
    setup(tmp_path)
    with pytest.raises(VideoError) as exc:
        open_video(tmp_path, **kwargs)
    assert message in one_line(exc)


def test_folder_of_videos_given_to_the_python_api_says_what_to_do(tmp_path):
    write_video(tmp_path / "a.mp4", numbered_frames(2), fps=10)
    with pytest.raises(VideoError) as exc:
        open_video(tmp_path)
    assert "no image files" in one_line(exc) and "it holds 1 video file(s): analyse each one" in str(exc.value)


def test_no_frame_in_range_warning_says_what_the_input_is(tmp_path):
    from vidaffect.pipeline.analyzer import _decode_warnings

    reader = open_video(write_image(tmp_path / "a.png", colour_frame(1)), start=1)
    assert list(reader) == []
    assert _decode_warnings(str(reader.path), reader, 0)["warnings"] == [
        "no frame in the requested time range (1 s to the end); an image is one frame at 0 s"]
    write_image(tmp_path / "b.png", colour_frame(2))
    reader = open_video(tmp_path, start=5)
    assert list(reader) == []
    assert _decode_warnings(str(reader.path), reader, 0)["warnings"] == [
        "no frame in the requested time range (5 s to the end); the input lasts 2.00 s"]


# ----- NumPy arrays -----
def test_array_image_and_frame_stack():
    rgb = colour_frame(70)
    reader = open_video(rgb)
    assert isinstance(reader, ArrayReader) and reader.stills
    assert (reader.info.kind, reader.info.name, reader.info.frame_count) == ("array", "array", 1)
    frames = list(reader)
    assert len(frames) == 1 and frames[0].time_s == 0.0
    np.testing.assert_array_equal(frames[0].image, rgb)

    stack = np.stack(numbered_frames(10, 32, 24))
    reader = open_video(stack, image_fps=5)
    assert not reader.stills  # (N, H, W, 3): the frames of a video
    assert (reader.info.width, reader.info.height, reader.info.fps, reader.info.duration_s) == (32, 24, 5.0, 2.0)
    frames = list(reader)
    assert [f.time_s for f in frames] == [i / 5 for i in range(10)]
    assert all(np.array_equal(f.image, stack[i]) for i, f in enumerate(frames))
    assert [f.index for f in open_video(stack, image_fps=5, start=0.5, end=1.5, fps=2.5)] == [3, 5, 7]


@pytest.mark.parametrize("array, message", [
    (np.zeros((8, 8, 3), np.float32), "pixels must be uint8 RGB, got float32 8x8x3 (floats in [0, 1]"),
    (np.zeros((8, 8, 3), np.int64), "pixels must be uint8 RGB, got int64"),
    (np.zeros((8, 8), np.uint8), "an 8x8 grey image; give (H, W, 3) RGB"),
    (np.zeros((8, 8, 1), np.uint8), "grey image"),
    (np.zeros((8, 8, 4), np.uint8), "RGBA image"),
    (np.zeros((2, 3, 8, 8, 3), np.uint8), "neither an image (H, W, 3) nor frames (N, H, W, 3)"),
    (np.zeros((0, 8, 8, 3), np.uint8), "holds no pixels"),
    (np.zeros((8, 0, 3), np.uint8), "holds no pixels"),
])
def test_bad_arrays_are_one_line_errors(array, message):
    with pytest.raises(VideoError) as exc:
        open_video(array)
    assert message in one_line(exc)


# ----- webcam -----
def test_webcam_without_camera_or_end_is_a_one_line_error(monkeypatch, capfd):
    from vidaffect.video import webcam_backend

    with pytest.raises(VideoError) as exc:
        open_video(0)
    assert one_line(exc) == "webcam:0: a camera has no end; give --end (end= in Python), the seconds to record"
    with pytest.raises(VideoError) as exc:
        open_video("webcam:7", end=2)
    assert one_line(exc).startswith("webcam:7: no camera at index 7")
    with pytest.raises(VideoError, match="a camera index is >= 0"):
        open_video(-1, end=2)
    # where the platform has no /dev/videoN to look at, OpenCV itself is asked, and its warnings stay quiet
    monkeypatch.setattr(webcam_backend, "no_camera_reason", lambda index: None)
    capfd.readouterr()
    with pytest.raises(VideoError) as exc:
        open_video(7, end=2)
    assert one_line(exc) == "webcam:7: no camera at index 7 (OpenCV could not open it)"
    captured = capfd.readouterr()
    assert "WARN" not in captured.err and "VIDEOIO" not in captured.err, captured.err


# ----- stream URLs (HTTP on loopback) -----
class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with HTTP range requests (FFmpeg seeks to an MP4's index with them), one request per
    connection."""

    protocol_version = "HTTP/1.0"

    def log_message(self, *args) -> None:
        pass

    def send_head(self):
        path = self.translate_path(self.path)
        if not os.path.isfile(path):
            self.send_error(404, "File not found")
            return None
        size = os.path.getsize(path)
        m = re.match(r"bytes=(\d*)-(\d*)$", self.headers.get("Range") or "")
        f = open(path, "rb")
        if m and (m.group(1) or m.group(2)):
            start = int(m.group(1)) if m.group(1) else size - int(m.group(2))
            end = min(int(m.group(2)) if m.group(1) and m.group(2) else size - 1, size - 1)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            f.seek(start)
            self._left = end - start + 1
        else:
            self.send_response(200)
            self._left = size
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(self._left))
        self.end_headers()
        return f

    def copyfile(self, source, dest) -> None:
        left = self._left
        while left > 0:
            block = source.read(min(1 << 16, left))
            if not block:
                break
            try:
                dest.write(block)
            except (BrokenPipeError, ConnectionResetError):
                break
            left -= len(block)


@pytest.fixture(scope="module")
def http_videos():
    """``http://127.0.0.1:PORT`` serving the shared videos folder (skips without it)."""
    if not (VIDEOS / "single_face.mp4").exists():
        pytest.skip(f"shared test video {VIDEOS / 'single_face.mp4'} not present (../shared/data/videos)")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(RangeHandler, directory=str(VIDEOS)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_http_url_gives_the_same_frames_as_the_file(http_videos):
    url = f"{http_videos}/single_face.mp4"
    reader = open_video(url, end=1.0)
    assert isinstance(reader, StreamReader) and not reader.live
    local = PyAVReader(VIDEOS / "single_face.mp4", end=1.0)
    info, ref = reader.info, local.info
    assert (info.kind, info.width, info.height, info.fps, info.frame_count) == \
        ("stream", ref.width, ref.height, ref.fps, ref.frame_count)
    assert info.name == f"127.0.0.1_{http_videos.rsplit(':', 1)[1]}_single_face" and info.path == url
    got, want = list(reader), list(local)
    assert len(got) == len(want) > 10
    for a, b in zip(got, want):
        assert (a.index, a.time_s) == (b.index, b.time_s)
        np.testing.assert_array_equal(a.image, b.image)
    assert [f.index for f in open_video(url, start=0.5, end=1.0, fps=10)] == \
        [f.index for f in PyAVReader(VIDEOS / "single_face.mp4", start=0.5, end=1.0, fps=10)]


def test_url_secrets_never_reach_messages_or_info(http_videos):
    host = http_videos.split("//", 1)[1]
    reader = open_video(f"http://ann:hunter2@{host}/single_face.mp4?token=s3cr3t", end=0.2)
    assert reader.info.path == f"http://ann:***@{host}/single_face.mp4?***"
    assert "hunter2" not in repr(reader.info) and "s3cr3t" not in repr(reader.info)
    with pytest.raises(VideoError) as exc:
        open_video(f"http://ann:hunter2@{host}/missing.mp4?token=s3cr3t")
    text = one_line(exc)
    assert "404" in text and "hunter2" not in text and "s3cr3t" not in text
    assert redact_url("rtsp://admin:pw@10.0.0.2:554/live?x=1#frag") == "rtsp://admin:***@10.0.0.2:554/live?***"
    assert redact_url("rtsp://viewer@cam/live") == "rtsp://viewer@cam/live"


def test_unreachable_stream_is_a_one_line_error():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(VideoError) as exc:
        open_video(f"http://127.0.0.1:{port}/clip.mp4")
    assert f"http://127.0.0.1:{port}/clip.mp4: cannot open the stream (" in one_line(exc)


# ----- the whole pipeline on each kind -----
@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


@pytest.fixture(scope="module")
def analyzer():
    from vidaffect.pipeline.analyzer import Analyzer

    with Analyzer() as an:
        yield an


def test_a_face_in_a_single_image_is_found(analyzer, astronaut, tmp_path):
    """A still has one frame to find a face on: its face must not be dropped as an unconfirmed track."""
    res = analyzer.analyze(astronaut)
    assert len(res) == 1 and res.metadata["faces_found"] == 1
    face = res.faces.iloc[0]
    assert face["face_id"] == 0 and isinstance(face["emotion"], str) and 150 < face["x1"] < 250
    assert res.metadata["video"]["kind"] == "array" and res.metadata["video"]["name"] == "array"
    from_png = analyzer.analyze(write_image(tmp_path / "astronaut.png", astronaut))
    assert from_png.metadata["video"]["kind"] == "image" and from_png.metadata["video"]["name"] == "astronaut"
    cols = ["x1", "y1", "x2", "y2", "valence", "arousal"]
    np.testing.assert_allclose(from_png.faces[cols].to_numpy(float), res.faces[cols].to_numpy(float), atol=1e-4)
    assert from_png.faces["emotion"].tolist() == res.faces["emotion"].tolist()


def test_folder_images_are_each_analysed_and_linked_by_person(analyzer, astronaut, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    write_image(folder / "p1.png", astronaut)
    write_image(folder / "p2.png", np.zeros((200, 300, 3), np.uint8))  # no face, another size
    write_image(folder / "p10.png", np.ascontiguousarray(astronaut[40:, 30:]))  # the same face, elsewhere
    res = analyzer.analyze(folder)
    assert len(res) == 3 and list(res.frames.drop_duplicates("frame")["time_s"]) == [0.0, 1.0, 2.0]
    assert [len(f) for f in res] == [1, 0, 1]  # p1, p2, p10 in natural order
    faces = res.faces
    assert faces["face_id"].nunique() == 2  # each image its own shot: no track across photos...
    assert faces["person_id"].nunique() == 1  # ... and the person is linked by appearance
    assert res.metadata["video"]["kind"] == "images" and res.metadata["video"]["name"] == "photos"


def test_frame_stack_follows_the_video_rules(analyzer, astronaut):
    stack = np.stack([astronaut] * 8)  # detections on frames 0 and 6 (--detect-every 6) confirm the face
    res = analyzer.analyze(stack, name="stack")
    assert len(res) == 8 and res.faces["face_id"].nunique() == 1 and len(res.faces) == 8
    assert res.frames["time_s"].tolist() == [float(i) for i in range(8)]  # image_fps defaults to 1
    assert [len(f) for f in analyzer.analyze(stack[:3])] == [0, 0, 0]  # one detection: not confirmed, as in a video
    assert res.metadata["video"]["name"] == "stack" and "image_fps" not in res.metadata["settings"]


def test_image_fps_is_an_option_and_recorded(astronaut):
    from vidaffect.errors import VidaffectError
    from vidaffect.pipeline.analyzer import AnalyzeOptions

    assert AnalyzeOptions(image_fps=25).check().settings()["image_fps"] == 25
    assert "image_fps" not in AnalyzeOptions().settings()  # settings hashes of earlier runs stay valid
    for bad in (0, -1, float("inf")):
        with pytest.raises(VidaffectError, match="--image-fps must be"):
            AnalyzeOptions(image_fps=bad).check()


# ----- the command line -----
def run_cli(*args, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vidaffect", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


def test_collect_inputs_expands_folders_of_videos_and_images(tmp_path):
    from vidaffect.cli.commands.analyze import collect_inputs, output_names
    from vidaffect.video.formats import DEFAULT_EXTS

    root = tmp_path / "in"
    (root / "clips").mkdir(parents=True)
    (root / "frames" / "take2").mkdir(parents=True)
    write_video(root / "clips" / "a.mp4", numbered_frames(2), fps=10)
    write_image(root / "clips" / "a.jpg", colour_frame(1))  # a thumbnail beside a video: not a sequence
    write_image(root / "frames" / "0001.png", colour_frame(1))
    write_image(root / "frames" / "take2" / "0001.png", colour_frame(1))
    write_image(root / "frames" / ".thumbs.png", colour_frame(1))
    (root / "empty").mkdir()
    found, missing = collect_inputs([str(root), "webcam:1", "rtsp://u:pw@cam/live", "webcam:x", "ftp://h/x",
                                     str(tmp_path / "nope.png"), str(root / "empty")], DEFAULT_EXTS)
    assert found == [root / "clips" / "a.mp4", root / "frames", root / "frames" / "take2", "webcam:1",
                     "rtsp://u:pw@cam/live"]
    assert [(str(p), why.split(" (")[0].split(";")[0]) for p, why in missing] == [
        ("webcam:x", "a webcam is webcam:N with N the camera's index"),
        ("ftp://h/x", "unsupported URL scheme 'ftp'"),
        (str(tmp_path / "nope.png"), "file not found"),
        (str(root / "empty"), "no video files with extensions ['.3gp', '.avi', '.flv', '.m4v', '.mkv', '.mov', "
                              "'.mp4', '.mpeg', '.mpg', '.mts', '.ts', '.webm', '.wmv'] and no image files")]
    videos_only, _ = collect_inputs([str(root)], DEFAULT_EXTS, image_exts="")
    assert videos_only == [root / "clips" / "a.mp4"]
    names = output_names(found)
    assert names[root / "clips" / "a.mp4"] == "a" and names["webcam:1"] == "webcam1"
    assert names["rtsp://u:pw@cam/live"] == "cam_live"
    assert names[root / "frames"] == "frames" and names[root / "frames" / "take2"] == "take2"
    twins = output_names([root / "frames", tmp_path / "other" / "frames"])  # two folders named alike
    assert len(set(twins.values())) == 2 and all(re.fullmatch(r"frames-[0-9a-f]{8}", n) for n in twins.values())


def test_cli_analyses_images_folders_and_urls_and_refuses_the_rest(tmp_path, astronaut, http_videos):
    write_image(tmp_path / "portrait.jpg", astronaut)
    folder = tmp_path / "burst"
    folder.mkdir()
    for i in range(2):
        write_image(folder / f"shot{i}.png", astronaut)
    write_image(folder / "cover.jpg", astronaut)  # not a --image-exts png: left out of the sequence
    out = tmp_path / "out"
    url = f"{http_videos.replace('//', '//viewer:hunter2@')}/single_face.mp4"
    r = run_cli("analyze", tmp_path / "portrait.jpg", folder, url, "webcam:0", "ftp://h/x.mp4", "-o", out,
                "--end", "0.5", "--image-fps", "2", "--image-exts", "png", "--report", "-q", "--no-identity")
    errors = [line for line in r.stderr.splitlines() if line.startswith("vidaffect: error:")]
    warnings = [line for line in r.stderr.splitlines() if line.startswith("vidaffect: warning:")]
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert len(errors) == 2 and "hunter2" not in r.stderr
    assert any("ftp://h/x.mp4: unsupported URL scheme 'ftp'" in e for e in errors)
    assert any(e.startswith("vidaffect: error: webcam:0: no camera at index 0") for e in errors)
    skipped = [w for w in warnings if "--report and --annotate need a video file" in w]
    assert [w.rsplit("(", 1)[1] for w in skipped] == ["image)", "images)", "stream)"]
    port = http_videos.rsplit(":", 1)[1]
    for name, kind, frames in [("portrait", "image", 1), ("burst", "images", 1), (f"127.0.0.1_{port}_single_face",
                                                                                 "stream", 15)]:
        meta = json.loads((out / f"{name}.metadata.json").read_text())
        assert meta["video"]["kind"] == kind and meta["frames_analysed"] == frames, name
        assert kind != "images" or meta["video"]["frame_count"] == 2  # shot0.png, shot1.png
        assert "hunter2" not in (out / f"{name}.metadata.json").read_text()
        table = pd.read_csv(out / f"{name}.frames.csv")
        assert table["frame"].nunique() == frames
        if kind != "stream":
            assert (table["face_id"] >= 0).sum() == 1 and set(table["va_source"].dropna()) == {"derived:russell1980"}
    assert not list(out.glob("*.report.html"))


def test_help_documents_the_input_kinds_and_options():
    out = run_cli("analyze", "--help").stdout
    for text in ("--image-fps", "--image-exts", "webcam:N", "rtsp://", "image files"):
        assert text in out, text
