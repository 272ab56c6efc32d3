"""Small MELD subsets (the follow-up work's large 64/8/8, medium 32/4/4, small 16/2/2 dialogues).

All subsets draw their train, dev and test dialogues from one CSV (MELD's
train split), disjoint, from one seeded permutation, so the small subset's
dialogues are also in medium and large.  Each split is a JSON object keyed
``"{dialogue}_{utterance}"`` holding the utterance's CSV fields, written as
``OUT/<name>/{train,dev,test}.json``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from vidaffect.errors import VidaffectError
from vidaffect.meld.data import csv_fields
from vidaffect.utils.atomic import atomic_write_text

SIZES = {"small": (16, 2, 2), "medium": (32, 4, 4), "large": (64, 8, 8)}
SPLITS = ("train", "dev", "test")


def subset_name(counts: tuple[int, int, int]) -> str:
    """``small``/``medium``/``large`` for the standard sizes, else ``custom_T_D_E``."""
    for name, size in SIZES.items():
        if tuple(counts) == size:
            return name
    return "custom_" + "_".join(str(c) for c in counts)


def choose_dialogues(df: pd.DataFrame, counts: tuple[int, int, int], seed: int = 0) -> dict[str, list[int]]:
    """Disjoint train/dev/test dialogue ids: the first dialogues of a seeded permutation of the CSV's dialogues."""
    dialogues = np.array(sorted(df["Dialogue_ID"].unique()))
    need = int(sum(counts))
    if need > len(dialogues):
        raise VidaffectError(f"asked for {need} dialogues ({'/'.join(map(str, counts))}) but the CSV has {len(dialogues)}")
    order = dialogues[np.random.default_rng(seed).permutation(len(dialogues))]
    # dev and test pools sized for the largest standard subset, so smaller subsets are prefixes of larger ones
    n_dev, n_test = max(counts[1], SIZES["large"][1]), max(counts[2], SIZES["large"][2])
    if n_dev + n_test + counts[0] > len(dialogues):
        n_dev, n_test = counts[1], counts[2]
    pools = {"dev": order[:n_dev], "test": order[n_dev:n_dev + n_test], "train": order[n_dev + n_test:]}
    return {split: sorted(int(d) for d in pools[split][:n]) for split, n in zip(SPLITS, counts)}


def build_subset(df: pd.DataFrame, counts: tuple[int, int, int], seed: int = 0) -> dict[str, dict[str, dict]]:
    """{split: {key: CSV fields}} for the chosen dialogues."""
    chosen = choose_dialogues(df, counts, seed)
    return {split: {row["key"]: csv_fields(row) for _, row in df[df["Dialogue_ID"].isin(ids)].iterrows()}
            for split, ids in chosen.items()}


def write_subset(subset: dict[str, dict[str, dict]], out_dir: str | Path, name: str) -> list[Path]:
    """Write ``out_dir/name/{train,dev,test}.json`` atomically."""
    folder = Path(out_dir) / name
    folder.mkdir(parents=True, exist_ok=True)
    return [atomic_write_text(folder / f"{split}.json", json.dumps(subset[split], indent=1, ensure_ascii=False))
            for split in SPLITS]
