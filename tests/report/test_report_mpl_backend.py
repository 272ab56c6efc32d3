"""No module of vidaffect changes matplotlib's backend or pyplot's state: figures are ``Figure`` objects."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "vidaffect"
TESTS = Path(__file__).resolve().parent


def test_no_module_imports_pyplot_or_switches_the_backend():
    offenders = []
    pattern = re.compile(r"^\s*(?:import matplotlib\.pyplot|from matplotlib import pyplot|from matplotlib\.pyplot "
                         r"import|.*\b(?:matplotlib|mpl)\.use\(|.*\bplt\.)", re.M)
    for path in SRC.rglob("*.py"):
        for m in pattern.finditer(path.read_text(encoding="utf-8")):
            offenders.append(f"{path.relative_to(SRC)}: {m.group(0).strip()}")
    assert offenders == []


SCRIPT = r"""
import sys
sys.path.insert(0, {tests!r})
import matplotlib
matplotlib.use("svg")                       # the user's choice (not Agg)
import matplotlib.pyplot as plt
plt.figure()                                # and a figure of their own, open in pyplot
import numpy as np
from pathlib import Path
from report_synth import make_results, make_video
from vidaffect.report import ReportOptions, build_report
from vidaffect.evaluation.confusion_plot import plot_confusion
from vidaffect.micro.evaluate import plot_confusion as micro_confusion
out = Path({out!r})
video = make_video(out / "clip.avi", n=10, fps=10)
res = make_results(video, n=10, faces=2)
fig = res.plot(out / "plot.png")            # Results.plot()
build_report(res, out / "r.html", options=ReportOptions(video_mode="none", thumbnails=2))   # static plots too
plot_confusion(out / "cm.png", np.eye(3), ["a", "b", "c"])
micro_confusion(np.eye(2), ["a", "b"], out / "cm2.png")
assert (out / "plot.png").stat().st_size > 1000 and "data:image/png;base64," in (out / "r.html").read_text()
print("BACKEND", matplotlib.get_backend(), "FIGURES", plt.get_fignums(), "TYPE", type(fig).__name__,
      "CANVAS", type(fig.canvas).__name__)
"""


def test_plot_and_report_leave_the_users_backend_and_figures_alone(tmp_path):
    code = SCRIPT.format(tests=str(TESTS), out=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("BACKEND")][-1]
    # matplotlib.use("Agg") in the library would have switched the backend and closed the user's figure
    assert line.split()[1].lower() == "svg", line
    assert "FIGURES [1]" in line, line
    assert "TYPE Figure" in line and "CANVAS FigureCanvasBase" in line, line  # not attached to pyplot
