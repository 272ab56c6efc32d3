"""The corpus-level Parquet data set: ``OUT/dataset/video=<key>/part-0.parquet`` (hive partitioning).

pandas (``pd.read_parquet(OUT/"dataset")``), pyarrow.dataset, DuckDB
(``read_parquet('OUT/dataset/*/*.parquet', hive_partitioning=true)``) and Spark
read the folder as one table with a ``video`` column taken from the folder names.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from vidaffect.results import Results

DATASET_DIR = "dataset"
PART_NAME = "part-0.parquet"


def partition_dir(out: str | os.PathLike, key: str) -> Path:
    return Path(out) / DATASET_DIR / f"video={key}"


def frames_table(frames: pd.DataFrame, video_name: str):
    """The per-frame table of one video with a stable schema (the ``emotion`` column is always a string)."""
    import pyarrow as pa

    df = frames.copy()
    df.insert(0, "video_name", video_name)
    table = pa.Table.from_pandas(df, preserve_index=False)
    fields = [pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f for f in table.schema]
    return table.cast(pa.schema(fields)).replace_schema_metadata(None)


def write_part(frames: "Results", video_name: str, path: str | os.PathLike) -> int:
    """Write one video's partition file (the caller renames it into place); return its rows.

    ``frames`` is read in bounded batches (a long video's table may live on disk)."""
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer, rows = None, 0
    try:
        for batch in frames.iter_batches():
            table = frames_table(batch, video_name)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table.cast(writer.schema))
            rows += len(batch)
        if writer is None:
            pq.write_table(frames_table(frames.frames, video_name), path)  # no rows: just the columns
    finally:
        if writer is not None:
            writer.close()
    return rows


def read_dataset(out: str | os.PathLike) -> pd.DataFrame:
    """The whole corpus as one DataFrame (``video`` column = partition key)."""
    import pyarrow.dataset as ds

    root = Path(out) / DATASET_DIR
    if not root.is_dir():
        return pd.DataFrame()
    return ds.dataset(root, format="parquet", partitioning="hive").to_table().to_pandas()
