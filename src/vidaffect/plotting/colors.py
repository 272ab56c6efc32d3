"""Colours of every plot, the report and the annotated video: colour-blind-safe and all distinct.

Emotion classes use the Okabe-Ito palette (Okabe & Ito 2008, "Color Universal
Design"; Wong 2011, Nature Methods 8:441), with a light grey for ``neutral``
(the palette's black would dominate a stacked chart).  Valence and arousal use
two dark colours from Paul Tol's qualitative scheme (indigo, wine) that no
class uses, and differ in line style too (valence solid, arousal dashed), so
they stay apart without colour vision.  Faces and persons use Tol's "bright"
scheme.

``tests/report/test_report_colors.py`` checks that every pair of series
(the classes, valence and arousal) differs by at least 15 CIELAB units for
normal vision and under simulated protanopia, deuteranopia and tritanopia
(Machado et al. 2009).
"""
from __future__ import annotations

# One fixed colour per canonical class so every plot, report and annotated video agrees.
EMOTION_COLORS = {
    "angry": "#D55E00",     # vermillion
    "disgust": "#009E73",   # bluish green
    "fear": "#CC79A7",      # reddish purple
    "happy": "#F0E442",     # yellow
    "sad": "#0072B2",       # blue
    "surprise": "#E69F00",  # orange
    "neutral": "#C8C8C8",   # light grey
    "contempt": "#56B4E9",  # sky blue
}
UNKNOWN_COLOR = "#999999"
"""Colour of a class outside :data:`EMOTION_COLORS` (a custom model's)."""

VALENCE_COLOR, AROUSAL_COLOR = "#332288", "#882255"   # Tol indigo, Tol wine
VALENCE_STYLE, AROUSAL_STYLE = "-", "--"               # matplotlib line styles
VALENCE_DASH, AROUSAL_DASH = "", "5 3"                 # SVG stroke-dasharray of the report

FACE_PALETTE = ["#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377", "#BBBBBB"]
"""Paul Tol's "bright" qualitative scheme (colour-blind safe), one colour per face or person."""


def emotion_color(name: str) -> str:
    """The colour of an emotion class (:data:`UNKNOWN_COLOR` for one outside the palette)."""
    return EMOTION_COLORS.get(name, UNKNOWN_COLOR)


def face_color(face_id: int) -> str:
    """A stable colour per face (or person) number."""
    return FACE_PALETTE[int(face_id) % len(FACE_PALETTE)]
