"""All matplotlib plots of vidaffect (shared by ``Results.plot()`` and the reports).

Every function takes the ``Results.frames`` table (or ``Results.summary()``),
returns the figure and, given ``path``, saves it atomically as PNG, SVG or PDF
by the suffix.
"""
from vidaffect.plotting.common import save_figure
from vidaffect.plotting.emotions import plot_emotion_timeline
from vidaffect.plotting.summary import plot_face_summary
from vidaffect.plotting.timeline import EMOTION_COLORS, plot_results
from vidaffect.plotting.va import plot_va_circumplex, plot_va_trend

__all__ = ["EMOTION_COLORS", "plot_emotion_timeline", "plot_face_summary", "plot_results", "plot_va_circumplex",
           "plot_va_trend", "save_figure"]
