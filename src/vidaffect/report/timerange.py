"""The analysed time range of a result set (``--start``/``--end``), which bounds the report's axes and player."""
from __future__ import annotations

import math
from dataclasses import dataclass


def _num(value) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


@dataclass(frozen=True)
class TimeRange:
    """``start``..``end`` seconds analysed of a video lasting ``duration`` (None when unknown)."""

    start: float
    end: float
    duration: float | None

    @property
    def partial(self) -> bool:
        """Whether only a part of the video was analysed."""
        if self.start > 1e-3:
            return True
        return self.duration is not None and self.end < self.duration - 1e-3

    def text(self) -> str:
        """``"analysed 5.00–8.00 s of 23.40 s"`` or ``"analysed the whole video (23.40 s)"``."""
        if not self.partial:
            return f"analysed the whole video ({self.end:.2f} s)"
        of = f" of {self.duration:.2f} s" if self.duration is not None else ""
        return f"analysed {self.start:.2f}–{self.end:.2f} s{of}"


def analysed_range(metadata: dict, t_min: float | None = None, t_max: float | None = None,
                   step: float = 0.0) -> TimeRange:
    """The range from the recorded settings (``start``/``end``, clipped to the video's duration), else the
    whole video; ``t_min``/``t_max`` (first and last analysed frame time) and ``step`` (frame step) widen it
    when frames lie outside (results edited by hand, settings not recorded)."""
    settings = metadata.get("settings") or {}
    duration = _num((metadata.get("video") or {}).get("duration_s"))
    if duration is not None and duration <= 0:
        duration = None
    start = _num(settings.get("start")) or 0.0
    end = _num(settings.get("end"))
    if end is None or (duration is not None and end > duration):
        end = duration
    if t_min is not None and math.isfinite(t_min):
        start = min(start, t_min)
    if t_max is not None and math.isfinite(t_max):
        end = max(end if end is not None else 0.0, t_max + step)
    if end is None or end <= start:
        end = start + 1e-3
    if duration is not None:
        duration = max(duration, end)
    return TimeRange(round(start, 3), round(end, 3), round(duration, 3) if duration is not None else None)
