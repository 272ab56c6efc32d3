"""Valence/arousal derived from class probabilities (for models without a VA head).

VA = sum_c p(c) * (v_c, a_c) with the circumplex coordinates of
:data:`vidaffect.labels.CIRCUMPLEX_VA` (Russell 1980; see that module).  This
is a mapping of categories, not a measured VA model: results record
``va_source = "derived:russell1980"`` in their metadata.
"""
from __future__ import annotations

import numpy as np

from vidaffect.labels import CIRCUMPLEX_VA


def derived_va(probs: np.ndarray, classes: tuple[str, ...] | list[str]) -> np.ndarray:
    """(N, C) probabilities -> (N, 2) valence/arousal; classes without coordinates count as (0, 0)."""
    coords = np.array([CIRCUMPLEX_VA.get(c, (0.0, 0.0)) for c in classes], dtype=np.float32)
    probs = np.asarray(probs, dtype=np.float32)
    total = probs.sum(axis=1, keepdims=True)
    return (probs @ coords) / np.where(total > 0, total, 1.0)
