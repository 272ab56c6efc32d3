"""Per-utterance features of a MELD table: text (VADER), audio (eGeMAPS), face (speaker's emotions).

One row per utterance keyed ``"{dialogue}_{utterance}"`` with the labels
(``Emotion``, ``Sentiment``), the speaker-face choice and the feature columns
``text_*``, ``audio_*``, ``face_*``.  Utterances whose clip is missing keep
their text features and get NaN audio/face features.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from vidaffect.errors import VidaffectError
from vidaffect.meld.data import normalize_meld_table, read_meld_csv

log = logging.getLogger(__name__)
MODALITIES = ("text", "audio", "face")


def read_meld_table(path: str | os.PathLike) -> pd.DataFrame:
    """A MELD CSV, or a subset JSON written by ``vidaffect meld subset`` (keyed ``"{dialogue}_{utterance}"``)."""
    path = Path(path)
    if path.suffix.lower() != ".json":
        return read_meld_csv(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VidaffectError(f"{path}: subset file not found") from None
    except ValueError as exc:
        raise VidaffectError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not data:
        raise VidaffectError(f"{path}: expected a non-empty JSON object keyed '{{dialogue}}_{{utterance}}'")
    return normalize_meld_table(pd.DataFrame(list(data.values())), path)


def utterance_features(table: pd.DataFrame, modalities: tuple[str, ...] = MODALITIES, analyzer=None,
                       gallery=None, embedder=None, progress: bool = False) -> pd.DataFrame:
    """Features of every utterance of ``table`` (from :func:`~vidaffect.meld.data.attach_clips` when audio/face)."""
    from tqdm import tqdm

    bad = [m for m in modalities if m not in MODALITIES]
    if bad:
        raise VidaffectError(f"unknown modality {bad}; choose from {', '.join(MODALITIES)}")
    if ("audio" in modalities or "face" in modalities) and "clip" not in table.columns:
        raise VidaffectError("audio and face features need the clips folder (--clips)")
    if "face" in modalities and analyzer is None:
        raise VidaffectError("face features need an Analyzer")
    rows = []
    for _, r in tqdm(table.iterrows(), total=len(table), desc="utterances", unit="utt", disable=not progress):
        row = {"key": r["key"], "Emotion": r["Emotion"], "Sentiment": r["Sentiment"], "Speaker": r["Speaker"],
               "clip_name": r["clip_name"]}
        clip = r.get("clip") if "clip" in table.columns else None
        clip = clip if isinstance(clip, str) else None  # missing clips are None/NaN
        if "text" in modalities:
            from vidaffect.meld.text import text_features

            row.update(text_features(r["Utterance"]))
        if clip and "audio" in modalities:
            from vidaffect.meld.audio import audio_features

            try:
                row.update(audio_features(clip))
            except VidaffectError as exc:
                log.warning("%s", exc)
        if clip and "face" in modalities:
            from vidaffect.meld.speaker import speaker_face

            sf, _, classes = speaker_face(clip, analyzer, speaker=r["Speaker"], gallery=gallery, embedder=embedder)
            row.update({"speaker_face_id": sf.face_id if sf.face_id is not None else -1,
                        "speaker_method": sf.method, "speaker_frames": sf.frames})
            if sf.face_id is not None:
                row.update(sf.features(classes))
        rows.append(row)
    return pd.DataFrame(rows).set_index("key")


def modality_columns(features: pd.DataFrame, modality: str) -> list[str]:
    """The feature columns of one modality (prefix ``<modality>_``)."""
    return [c for c in features.columns if c.startswith(f"{modality}_") and np.issubdtype(features[c].dtype, np.number)]
