"""Per-utterance features of a MELD table: text (VADER), audio (eGeMAPS), face (speaker's emotions),
optionally textemb (all-MiniLM-L6-v2 sentence embedding) and context (the conversation-aware text
model's emotion and sentiment probabilities, :mod:`vidaffect.meld.context`).

One row per utterance keyed ``"{dialogue}_{utterance}"`` with the labels
(``Emotion``, ``Sentiment``), the speaker-face choice and the feature columns
``text_*``, ``audio_*``, ``face_*``, ``textemb_*``, ``context_*``.  Utterances whose clip is missing keep
their text features and get NaN audio/face features.  ``context`` reads each utterance with the
previous utterances of its dialogue that are in the same table, so give it whole dialogues.
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
MODALITIES = ("text", "audio", "face", "textemb", "context")
TEXT_MODALITIES = ("text", "textemb", "context")  # need no clips
DEFAULT_MODALITIES = ("text", "audio", "face")


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


def utterance_features(table: pd.DataFrame, modalities: tuple[str, ...] = DEFAULT_MODALITIES, analyzer=None,
                       gallery=None, progress: bool = False, context_model=None) -> pd.DataFrame:
    """Features of every utterance of ``table`` (from :func:`~vidaffect.meld.data.attach_clips` when audio/face).

    ``context_model``: a :class:`~vidaffect.meld.context.ContextModel` (default: the shipped one).
    """
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

            sf, _, classes = speaker_face(clip, analyzer, speaker=r["Speaker"], gallery=gallery)
            row.update({"speaker_face_id": sf.face_id if sf.face_id is not None else -1,
                        "speaker_method": sf.method, "speaker_frames": sf.frames})
            if sf.face_id is not None:
                row.update(sf.features(classes))
        rows.append(row)
    out = pd.DataFrame(rows).set_index("key")
    if "textemb" in modalities:
        from vidaffect.meld.context import cached_sentence_embeddings

        emb = cached_sentence_embeddings(table["Utterance"].fillna("").astype(str).tolist())
        cols = pd.DataFrame(emb, index=out.index, columns=[f"textemb_{i}" for i in range(emb.shape[1])])
        out = pd.concat([out, cols], axis=1)
    if "context" in modalities:
        from vidaffect.meld.context import context_probabilities

        probs = context_probabilities(table, context_model)
        probs.index = out.index
        out = pd.concat([out, probs], axis=1)
    return out


def modality_columns(features: pd.DataFrame, modality: str) -> list[str]:
    """The feature columns of one modality (prefix ``<modality>_``)."""
    return [c for c in features.columns if c.startswith(f"{modality}_") and np.issubdtype(features[c].dtype, np.number)]


def utterance_timeline(clip: str | os.PathLike, frames: pd.DataFrame, face_id: int, classes: list[str], text: str,
                       step_s: float = 0.1, word_times: list[tuple[float, float]] | None = None):
    """The speaker's per-frame emotions, the clip's audio and the text's tokens on one ``step_s`` grid.

    Streams: ``face`` (class probabilities of track ``face_id``), ``audio`` (RMS of the
    16 kHz samples), ``text`` (VADER valence per token, spread over the clip unless
    ``word_times`` are given).  Returns :class:`~vidaffect.meld.align.Aligned`.
    """
    from vidaffect.meld.align import align_streams, audio_stream, text_stream, video_stream
    from vidaffect.meld.audio import SAMPLE_RATE, read_audio
    from vidaffect.meld.text import token_valences
    from vidaffect.video import open_video

    duration = open_video(clip).info.duration_s
    track = frames[frames["face_id"] == face_id]
    tokens = text.split()
    streams = {
        "face": video_stream(track["time_s"].to_numpy(), track[list(classes)].to_numpy()),
        "audio": audio_stream(read_audio(clip), SAMPLE_RATE),
        "text": text_stream(tokens, 0.0, duration, np.array(token_valences(tokens)).reshape(-1, 1), word_times),
    }
    return align_streams(streams, step_s=step_s, start_s=0.0, end_s=duration)
