"""Colours: every series (the emotion classes, valence, arousal) has its own colour, distinguishable with
normal vision and under simulated protanopia, deuteranopia and tritanopia (Machado et al. 2009, severity 1)."""
from __future__ import annotations

import itertools

import numpy as np
from report_synth import CLASSES, make_results

from vidaffect.plotting import plot_results, plot_va_trend
from vidaffect.plotting.colors import (AROUSAL_COLOR, AROUSAL_STYLE, EMOTION_COLORS, VALENCE_COLOR, VALENCE_STYLE,
                                       emotion_color)

# Machado, Oliveira & Fernandes (2009), IEEE TVCG 15(6): full dichromacy, applied to linear RGB
CVD = {
    "normal": np.eye(3),
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}
MIN_DELTA_E = 15.0  # CIE76; 2.3 is a just-noticeable difference, ~10+ tells lines and areas apart at a glance


def _lab(hex_color: str, vision: str) -> np.ndarray:
    c = np.array([int(hex_color.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)])
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    lin = np.clip(CVD[vision] @ lin, 0, 1)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ lin
    t = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def closest_pair(colors: dict[str, str]) -> tuple[float, str, str, str]:
    """(smallest CIE76 distance over all visions and pairs, vision, name, name)."""
    return min((float(np.linalg.norm(_lab(colors[a], v) - _lab(colors[b], v))), v, a, b)
               for v in CVD for a, b in itertools.combinations(colors, 2))


def series_colors() -> dict[str, str]:
    return {**EMOTION_COLORS, "valence": VALENCE_COLOR, "arousal": AROUSAL_COLOR}


def test_every_series_has_a_distinct_colour_even_without_full_colour_vision():
    colors = series_colors()
    assert len(set(c.lower() for c in colors.values())) == len(colors)  # no two series share a colour
    d, vision, a, b = closest_pair(colors)
    assert d >= MIN_DELTA_E, f"{a} and {b} are only {d:.1f} apart under {vision}"


def test_the_check_catches_the_former_palette():
    former = {"angry": "#d62728", "disgust": "#8c564b", "fear": "#9467bd", "happy": "#f1c40f", "sad": "#1f77b4",
              "surprise": "#ff7f0e", "neutral": "#7f7f7f", "valence": "#2ca02c", "arousal": "#d62728"}
    d, _, a, b = closest_pair(former)
    assert d < 1 and {a, b} == {"angry", "arousal"}  # one red for both
    d, vision, a, b = closest_pair({k: v for k, v in former.items() if k != "arousal"})
    assert d < MIN_DELTA_E  # and classes that merge under colour blindness


def test_valence_and_arousal_also_differ_in_line_style():
    assert VALENCE_STYLE != AROUSAL_STYLE
    res = make_results("clip.mp4", n=20, faces=1)
    for fig, ax_index in ((plot_va_trend(res.frames), 0), (plot_results(res.frames, CLASSES), 0)):
        lines = {ln.get_label(): ln for ln in fig.axes[ax_index].lines}
        assert lines["valence"].get_linestyle() == "-" and lines["arousal"].get_linestyle() == "--"
        assert lines["valence"].get_color().lower() == VALENCE_COLOR.lower()
        assert lines["arousal"].get_color().lower() == AROUSAL_COLOR.lower()


def test_unknown_classes_get_a_neutral_fallback():
    assert emotion_color("happy") == EMOTION_COLORS["happy"]
    assert emotion_color("bored") not in set(series_colors().values())


def test_the_seven_classes_use_the_okabe_ito_palette():
    okabe_ito = {"#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"}
    assert {EMOTION_COLORS[c] for c in CLASSES if c != "neutral"} <= okabe_ito  # neutral: light grey
