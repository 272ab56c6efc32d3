"""Result tables on disk: Parquet part files written during a pass, read back in bounded batches.

A long video's results do not fit comfortably in memory (about 1.7 KB per face
row as Python lists, issue 21), so the analyser writes them as it goes:
:class:`PartWriter` writes each chunk of finished rows as its own small
Parquet file (``part-000000.parquet``...), atomically, so a killed process
leaves only whole parts behind (what ``--resume`` continues from).  Separate
files rather than row groups of one file: a part can have columns the earlier
ones lack (a model output that appears later), and a part is durable the
moment its rename is done, where a Parquet file is readable only once its
footer is written.

:func:`read_batches` reads parts or one Parquet file back as DataFrames of at
most ``batch_rows`` rows (pyarrow's batch reader: memory does not grow with
the file), :func:`frame_batches` regroups batches so that no analysed frame
is split between two of them (what per-frame steps need).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import pandas as pd

from vidaffect.utils.atomic import atomic_path

BATCH_ROWS = 4_096  # rows per batch when reading back: about a megabyte, whatever the video's length


def _arrow_table(df: pd.DataFrame):
    import pyarrow as pa

    return pa.Table.from_pandas(df, preserve_index=False)


class PartWriter:
    """Writes DataFrame chunks as numbered Parquet part files in ``folder`` (each written atomically)."""

    def __init__(self, folder: str | Path, prefix: str = "part", start: int = 0) -> None:
        self.folder = Path(folder)
        self.prefix = prefix
        self.count = start
        self.rows = 0
        self.folder.mkdir(parents=True, exist_ok=True)

    def write(self, df: pd.DataFrame) -> Path | None:
        if df.empty:
            return None
        import pyarrow.parquet as pq

        path = self.folder / f"{self.prefix}-{self.count:06d}.parquet"
        with atomic_path(path) as tmp:
            pq.write_table(_arrow_table(df), tmp)
        self.count += 1
        self.rows += len(df)
        return path

    def parts(self) -> list[Path]:
        return part_files(self.folder, self.prefix)


def part_files(folder: str | Path, prefix: str = "part") -> list[Path]:
    """The complete part files of ``folder`` in write order."""
    return sorted(Path(folder).glob(f"{prefix}-[0-9]*.parquet"))


def _none_for_missing(values: pd.Series) -> pd.Series:
    values = values.astype(object)
    return values.where(values.notna(), None)


def _objects_back(frames: pd.DataFrame, schema_metadata: dict | None) -> pd.DataFrame:
    """Text columns that were Python objects when written (``None`` where a row has none) back from the string
    dtype pandas reads them as; the Parquet file's pandas metadata says which."""
    try:
        columns = json.loads((schema_metadata or {}).get(b"pandas", b"{}")).get("columns", [])
    except ValueError:
        return frames
    for c in columns:
        name = c.get("name")
        if c.get("numpy_type") == "object" and name in frames.columns and frames[name].dtype != object:
            frames[name] = _none_for_missing(frames[name])
    return frames


def read_batches(paths: Path | str | Sequence[Path | str], columns: Sequence[str] | None = None,
                 batch_rows: int = BATCH_ROWS) -> Iterator[pd.DataFrame]:
    """DataFrames of at most ``batch_rows`` rows from one Parquet file or several (in order).

    ``columns``: only these (those a file lacks are left out of its batches).  Text columns come back as
    Python objects with ``None`` for missing values, as the analyser makes them."""
    import pyarrow.parquet as pq

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    for path in paths:
        # no pre-buffering: pyarrow would otherwise read ahead in proportion to the file (measured: +116 MB
        # against +72 MB over a 849k-row table than over an 85k-row one)
        pf = pq.ParquetFile(path, pre_buffer=False)
        meta = pf.schema_arrow.metadata
        names = pf.schema_arrow.names
        cols = None if columns is None else [c for c in columns if c in names]
        for rb in pf.iter_batches(batch_size=batch_rows, columns=cols):
            yield _objects_back(rb.to_pandas(), meta)


def read_whole(path: str | Path) -> pd.DataFrame:
    """A whole Parquet table as a DataFrame, text columns as :func:`read_batches` gives them."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    return _objects_back(table.to_pandas(), table.schema.metadata)


def frame_batches(batches: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """The same rows, regrouped so that each batch holds whole frames (the rows of one ``frame`` value are never
    split between two batches).  Rows must be in frame order."""
    carry: pd.DataFrame | None = None
    for b in batches:
        if carry is not None and len(carry):
            b = pd.concat([carry, b], ignore_index=True)
        if b.empty:
            carry = b
            continue
        cut = _last_frame_start(b["frame"].to_numpy())
        if cut > 0:
            yield b.iloc[:cut].reset_index(drop=True)
        carry = b.iloc[cut:].reset_index(drop=True)
    if carry is not None and len(carry):
        yield carry


def _last_frame_start(frames: np.ndarray) -> int:
    """Index of the first row of the last frame's run at the end of ``frames``."""
    differs = np.flatnonzero(frames != frames[-1])
    return int(differs[-1]) + 1 if len(differs) else 0


class TableWriter:
    """Writes batches of one results table into a single Parquet file (one row group per batch), atomically:
    the file appears under ``path`` only when :meth:`close` succeeds.  The schema is the first batch's, text
    columns as strings; later batches are cast to it (a column they lack is written as nulls).

    As a context manager, a block left without :meth:`close` (an exception, Ctrl-C) aborts: nothing is
    published and the temporary file is removed."""

    def __init__(self, path: str | Path, metadata: dict | None = None) -> None:
        self.path = Path(path)
        self.metadata = metadata
        self._tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        self._writer = None
        self._schema = None
        self._closed = False
        self.rows = 0

    def __enter__(self) -> "TableWriter":
        return self

    def __exit__(self, *exc) -> None:
        if not self._closed:
            self.abort()

    def _open(self, df: pd.DataFrame):
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = pa.Schema.from_pandas(df, preserve_index=False)
        fields = []
        for f in schema:
            if pa.types.is_null(f.type):  # all missing in the first batch: only text columns are ever so
                f = pa.field(f.name, pa.string())
            fields.append(f)
        meta = dict(schema.metadata or {})
        if self.metadata is not None:
            meta[b"vidaffect"] = json.dumps(self.metadata, default=str).encode()
        self._schema = pa.schema(fields, metadata=meta)
        self._writer = pq.ParquetWriter(self._tmp, self._schema)

    def write(self, df: pd.DataFrame) -> None:
        import pyarrow as pa

        if self._writer is None:
            self._open(df)
        names = self._schema.names
        for c in names:
            if c not in df.columns:
                df = df.assign(**{c: None})
        arrays = []
        for f in self._schema:
            col = df[f.name]
            arrays.append(pa.array(list(col) if pa.types.is_list(f.type) or pa.types.is_fixed_size_list(f.type)
                                   else col.to_numpy(dtype=object) if col.dtype == object else col.to_numpy(),
                                   type=f.type, from_pandas=True))
        self._writer.write_table(pa.Table.from_arrays(arrays, schema=self._schema))
        self.rows += len(df)

    def close(self, empty_like: pd.DataFrame | None = None) -> Path:
        if self._writer is None:
            self._open(empty_like if empty_like is not None else pd.DataFrame())
        self._writer.close()
        os.replace(self._tmp, self.path)
        self._closed = True
        return self.path

    def abort(self) -> None:
        if self._writer is not None:
            try:
                self._writer.close()
            except Exception:  # already broken: only the temporary file is left to remove
                pass
        self._tmp.unlink(missing_ok=True)
