"""Canonical emotion label set and valence/arousal coordinates of each class.

Every data set loader maps its own class names onto :data:`EMOTIONS` (or
:data:`EMOTIONS_8`, which adds contempt) so that models, metrics and result
columns always speak the same names.

Circumplex coordinates
----------------------
When a model has no valence/arousal head, vidaffect derives VA as the
probability-weighted mean of per-class (valence, arousal) coordinates.  The
coordinates approximate the positions of the matching affect terms on
Russell's circumplex: Russell, J. A. (1980), "A circumplex model of affect",
Journal of Personality and Social Psychology 39(6), 1161-1178, Fig. 2
("happy", "angry", "afraid", "sad", "astonished"; "disgust" and "contempt",
absent from the figure, are placed in the unpleasant, mildly aroused region
following Russell & Mehrabian (1977)), with neutral at the origin.  They map
categories onto VA; they are not a measured VA model, and results that use
them say so in their metadata (``va_source = "derived:russell1980"``).
"""
from __future__ import annotations

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""The 7 basic classes, in the order of the FER2013 CSV ``emotion`` column."""

EMOTIONS_8: tuple[str, ...] = EMOTIONS + ("contempt",)
"""The 7 basic classes plus contempt (AffectNet's 8-class set)."""

# (valence, arousal) in [-1, 1], derived from Russell (1980), see module docstring.
CIRCUMPLEX_VA: dict[str, tuple[float, float]] = {
    "angry": (-0.51, 0.59),
    "disgust": (-0.60, 0.35),
    "fear": (-0.64, 0.60),
    "happy": (0.81, 0.51),
    "sad": (-0.81, -0.40),
    "surprise": (0.40, 0.77),
    "neutral": (0.0, 0.0),
    "contempt": (-0.40, 0.20),
}

VA_SOURCE_DERIVED = "derived:russell1980"

# Synonyms seen in public data sets, mapped to canonical names.
ALIASES: dict[str, str] = {
    "anger": "angry",
    "angry": "angry",
    "disgusted": "disgust",
    "disgust": "disgust",
    "fear": "fear",
    "fearful": "fear",
    "afraid": "fear",
    "happy": "happy",
    "happiness": "happy",
    "joy": "happy",
    "sad": "sad",
    "sadness": "sad",
    "surprise": "surprise",
    "surprised": "surprise",
    "neutral": "neutral",
    "contempt": "contempt",
}


def canonical_label(name: str) -> str:
    """Map a data-set class name (any case, common synonyms) to the canonical name.

    Raises ``ValueError`` naming the label if it is unknown.
    """
    key = name.strip().lower()
    if key not in ALIASES:
        raise ValueError(f"unknown emotion class name {name!r}; known: {sorted(set(ALIASES.values()))}")
    return ALIASES[key]
