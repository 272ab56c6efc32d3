"""MELD CSV loaders (original and dyadic variant), clip naming and clip lookup.

Known quirks handled: utterances with bytes that are not UTF-8 (MELD's CSVs mix
UTF-8 with Windows-1252 curly quotes and dashes), mojibake of those quotes
(``â€™``), and utterances whose clip file is missing.
"""
from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import pandas as pd

from vidaffect.errors import VidaffectError

log = logging.getLogger(__name__)

EMOTIONS = ("neutral", "joy", "sadness", "anger", "surprise", "fear", "disgust")
SENTIMENTS = ("neutral", "positive", "negative")
COLUMNS = ("Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID",
           "Season", "Episode", "StartTime", "EndTime")
DYADIC_EXTRA = ("Old_Dialogue_ID", "Old_Utterance_ID")
REQUIRED = ("Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID")
MOJIBAKE = {"â€™": "'", "â€˜": "'", "â€œ": '"', "â€\x9d": '"', "â€”": "-", "â€“": "-", "â€¦": "...",
            "\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2014": "-", "\u2013": "-",
            "\u2026": "...", "\x92": "'", "\x91": "'", "\x93": '"', "\x94": '"', "\x96": "-", "\x97": "-"}


def clip_name(dialogue: int, utterance: int, ext: str = ".mp4") -> str:
    """MELD's clip file name of an utterance: ``dia{D}_utt{U}.mp4``."""
    return f"dia{int(dialogue)}_utt{int(utterance)}{ext}"


def utterance_key(dialogue: int, utterance: int) -> str:
    """Key of an utterance in the subset JSON files: ``"{dialogue}_{utterance}"``."""
    return f"{int(dialogue)}_{int(utterance)}"


def decode_text(raw: bytes) -> str:
    """Decode CSV bytes: UTF-8 per line where valid, Windows-1252 for the lines that are not."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    lines = []
    for line in raw.splitlines(keepends=True):
        try:
            lines.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            lines.append(line.decode("cp1252", errors="replace"))
    return "".join(lines).lstrip("\ufeff")


def clean_utterance(text: str) -> str:
    """Replace curly quotes, dashes and their mojibake by ASCII and collapse white space."""
    for bad, good in MOJIBAKE.items():
        text = text.replace(bad, good)
    return " ".join(text.split())


def read_meld_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read a MELD CSV (original or dyadic); adds ``key``, ``clip_name`` and ``dyadic`` columns."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise VidaffectError(f"{path}: MELD CSV not found") from None
    except OSError as exc:
        raise VidaffectError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        df = pd.read_csv(io.StringIO(decode_text(raw)), dtype={"Utterance": str, "Speaker": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise VidaffectError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    return normalize_meld_table(df, path)


def normalize_meld_table(df: pd.DataFrame, source: str | os.PathLike) -> pd.DataFrame:
    """Check and clean a table with MELD's columns; adds ``key``, ``clip_name`` and ``dyadic``."""
    path = source
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise VidaffectError(f"{path}: not a MELD CSV, missing column(s) {', '.join(missing)}")
    df["Utterance"] = df["Utterance"].fillna("").map(clean_utterance)
    df["Speaker"] = df["Speaker"].fillna("").map(clean_utterance)
    df["Emotion"] = df["Emotion"].astype(str).str.strip().str.lower()
    df["Sentiment"] = df["Sentiment"].astype(str).str.strip().str.lower()
    bad = sorted(set(df["Emotion"]) - set(EMOTIONS))
    if bad:
        raise VidaffectError(f"{path}: unknown emotion label(s) {bad}; MELD has {', '.join(EMOTIONS)}")
    df["Dialogue_ID"] = df["Dialogue_ID"].astype(int)
    df["Utterance_ID"] = df["Utterance_ID"].astype(int)
    df["dyadic"] = all(c in df.columns for c in DYADIC_EXTRA)
    df["key"] = [utterance_key(d, u) for d, u in zip(df["Dialogue_ID"], df["Utterance_ID"])]
    df["clip_name"] = [clip_name(d, u) for d, u in zip(df["Dialogue_ID"], df["Utterance_ID"])]
    if df["key"].duplicated().any():
        dup = df.loc[df["key"].duplicated(), "key"].iloc[0]
        raise VidaffectError(f"{path}: utterance {dup} (Dialogue_ID_Utterance_ID) appears more than once")
    return df


def attach_clips(df: pd.DataFrame, clips_dir: str | os.PathLike) -> pd.DataFrame:
    """Add a ``clip`` column (path, or None where the file is missing; missing ones are logged)."""
    clips_dir = Path(clips_dir)
    if not clips_dir.is_dir():
        raise VidaffectError(f"{clips_dir}: clips folder not found")
    out = df.copy()
    paths = [clips_dir / n for n in out["clip_name"]]
    out["clip"] = [str(p) if p.is_file() else None for p in paths]
    n_missing = int(out["clip"].isna().sum())
    if n_missing:
        log.warning("%s: %d of %d clip(s) missing (e.g. %s)", clips_dir, n_missing, len(out),
                    out.loc[out["clip"].isna(), "clip_name"].iloc[0])
    return out


def csv_fields(row: pd.Series) -> dict:
    """The original CSV fields of one utterance row (the derived columns dropped), JSON-friendly."""
    out = {}
    for c in (*COLUMNS, *DYADIC_EXTRA):
        if c in row.index:
            v = row[c]
            out[c] = v.item() if hasattr(v, "item") else v
    return out
