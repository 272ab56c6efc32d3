"""All matplotlib plots of vidaffect (shared by ``Results.plot()`` and the reports).

Every function takes the ``Results.frames`` table (or ``Results.summary()``),
returns a :class:`matplotlib.figure.Figure` and, given ``path``, saves it
atomically as PNG, SVG or PDF by the suffix.  Figures are made with
matplotlib's object API: nothing here imports pyplot or calls
``matplotlib.use``, so the caller's backend is left as it is (show a figure in
Jupyter by evaluating it, or save it with ``fig.savefig``).
"""
from vidaffect.plotting.colors import AROUSAL_COLOR, EMOTION_COLORS, VALENCE_COLOR
from vidaffect.plotting.common import save_figure
from vidaffect.plotting.emotions import plot_emotion_timeline
from vidaffect.plotting.summary import plot_face_summary
from vidaffect.plotting.timeline import plot_results
from vidaffect.plotting.va import plot_va_circumplex, plot_va_trend

__all__ = ["AROUSAL_COLOR", "EMOTION_COLORS", "VALENCE_COLOR", "plot_emotion_timeline", "plot_face_summary",
           "plot_results", "plot_va_circumplex", "plot_va_trend", "save_figure"]
