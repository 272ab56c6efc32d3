"""The shared plotting module: every plot writes PNG or SVG by suffix, with the expected content."""
import re

import pytest
from report_synth import CLASSES, make_results

from vidaffect.errors import OutputError
from vidaffect.plotting import (EMOTION_COLORS, plot_emotion_timeline, plot_face_summary, plot_results,
                                plot_va_circumplex, plot_va_trend)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def results():
    return make_results("clip.mp4", n=30, faces=2, gap=(10, 15))


def _svg_text(path):
    svg = path.read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    return svg


def test_each_plot_writes_png_or_svg_by_suffix(results, tmp_path):
    frames, classes = results.frames, results.classes
    calls = {
        "timeline": lambda p: plot_emotion_timeline(frames, classes, p),
        "trend": lambda p: plot_va_trend(frames, p),
        "circumplex": lambda p: plot_va_circumplex(frames, p, classes=classes),
        "summary": lambda p: plot_face_summary(results.summary(), classes, p),
        "results": lambda p: plot_results(frames, classes, "t", p),
    }
    # each plot in one format (alternating), both formats overall: matplotlib is slow on a loaded CI machine
    for k, (name, call) in enumerate(calls.items()):
        path = tmp_path / f"{name}.{'png' if k % 2 == 0 else 'svg'}"
        call(path)
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == PNG_MAGIC, name
        else:
            _svg_text(path)
    assert not list(tmp_path.glob(".*part"))  # atomic writes leave no temporary file


def test_circumplex_labels_the_emotions_of_the_model(results, tmp_path):
    path = tmp_path / "c.svg"
    plot_va_circumplex(results.frames, path, classes=["happy", "sad"])
    svg = _svg_text(path)
    # matplotlib writes text as glyph paths with the string in a comment
    labels = set(re.findall(r"<!-- (\w+) -->", svg))
    assert {"happy", "sad", "valence", "arousal"} <= labels
    assert "surprise" not in labels and "fear" not in labels


def test_face_panels_and_gap_in_trend(results, tmp_path):
    fig = plot_va_trend(results.frames)
    assert len(fig.axes) == 2
    # longest on screen first: face 0 is absent for 5 frames
    assert [ax.get_ylabel() for ax in fig.axes] == ["face 1", "face 0"]
    valence = fig.axes[1].lines[0].get_ydata()
    assert (valence != valence).sum() == 1  # one NaN break for face 0's absence
    fig = plot_emotion_timeline(results.frames, CLASSES)
    colors = {tuple(round(c, 3) for c in coll.get_facecolor()[0][:3]) for coll in fig.axes[1].collections}
    happy = tuple(round(int(EMOTION_COLORS["happy"][i:i + 2], 16) / 255, 3) for i in (1, 3, 5))
    assert happy in colors


def test_summary_bars_follow_the_shares(results):
    s = results.summary()
    fig = plot_face_summary(s, CLASSES)
    ax = fig.axes[0]
    widths = {}
    for patch, label in ((p, c.get_label()) for c in ax.containers for p in c.patches):
        widths.setdefault(label, []).append(patch.get_width())
    order = s.sort_values("frames", ascending=False)
    assert widths["happy"] == pytest.approx(list(order["share_happy"]))


def test_unsupported_suffix_is_a_clear_error(results, tmp_path):
    with pytest.raises(OutputError, match=r"\.bmp"):
        plot_va_trend(results.frames, tmp_path / "x.bmp")
