"""``vidaffect analyze --report --annotate`` and ``vidaffect report OUT_DIR``."""
import re
import shutil

import av
import pytest
from report_synth import make_results, make_video

from vidaffect.cli.main import main


@pytest.mark.integration
def test_analyze_writes_report_annotated_video_and_index(analyzed_dir, capsys):
    report = analyzed_dir / "single_face.report.html"
    annotated = analyzed_dir / "single_face.annotated.mp4"
    index = analyzed_dir / "index.html"
    assert report.is_file() and annotated.is_file() and index.is_file()
    html = report.read_text(encoding="utf-8")
    assert "id='source-select'" in html and "single_face.annotated.mp4" in html  # original/annotated switch
    assert "href='index.html'" in html
    assert "href='single_face.report.html'" in index.read_text(encoding="utf-8")
    with av.open(str(annotated)) as c:
        assert c.streams.video[0].codec_context.name in ("h264", "mpeg4") and len(c.streams.audio) == 1


def _saved_results(tmp_path, recorded_video):
    out = tmp_path / "out"
    make_results(recorded_video, n=20, faces=1).save(out, ("csv",), plot=False)
    return out


def test_report_command_finds_moved_videos_under_videos_root(tmp_path, capsys):
    root = tmp_path / "videos" / "day1"
    root.mkdir(parents=True)
    make_video(root / "clip.mp4", n=20)
    out = _saved_results(tmp_path, tmp_path / "old-place" / "day1" / "clip.mp4")  # recorded path gone
    assert main(["report", str(out), "--videos-root", str(tmp_path / "videos"), "--video", "link",
                 "--thumbnails", "3", "--annotate"]) == 0
    printed = capsys.readouterr().out
    assert str(out / "clip.report.html") in printed and str(out / "index.html") in printed
    html = (out / "clip.report.html").read_text(encoding="utf-8")
    assert "src='../videos/day1/clip.mp4'" in html
    assert len(re.findall(r"data:image/jpeg;base64", html)) == 3
    assert (out / "clip.annotated.mp4").is_file()
    assert "clip.report.html" in (out / "index.html").read_text(encoding="utf-8")


def test_report_command_without_the_video_makes_charts_only(tmp_path, capsys):
    out = _saved_results(tmp_path, tmp_path / "missing.mp4")
    assert main(["report", str(out), "-q"]) == 0
    err = capsys.readouterr().err
    assert "source video not found" in err and "--videos-root" in err
    html = (out / "missing.report.html").read_text(encoding="utf-8")
    assert "<video" not in html and "id='no-video'" in html


def test_report_command_errors_are_one_line(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", str(empty)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("vidaffect: error:") and "no results found" in err and "\n" not in err
    assert main(["report", str(tmp_path / "nope")]) == 1
    assert "not a directory" in capsys.readouterr().err
    out = _saved_results(tmp_path, tmp_path / "v.mp4")
    (out / "v.frames.csv").unlink()
    assert main(["report", str(out), "-q"]) == 1
    assert "no .frames.parquet or .frames.csv" in capsys.readouterr().err
    assert (out / "index.html").is_file()  # the index is still written
    shutil.rmtree(out)
