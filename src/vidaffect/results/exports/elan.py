"""ELAN annotation document (EAF 3.0) of the emotion segments, written with :mod:`xml.etree`.

The document links to the video (``MEDIA_DESCRIPTOR``: an absolute
``MEDIA_URL`` and a ``RELATIVE_MEDIA_URL`` from the ``.eaf`` file's folder, so
the pair can be moved together) and holds, per person (or face):

* a tier named after the person (``person 0``, or the enrolled name) of
  linguistic type ``emotion``: one annotation per emotion segment whose value
  is the class name; the type uses a controlled vocabulary of the model's
  classes, so corrections in ELAN pick from the same labels;
* optionally ``<person> valence`` and ``<person> arousal`` tiers (types
  ``valence``/``arousal``): one annotation per ``va_step_s`` bin in which the
  face is visible, clipped to the frames seen in the bin, whose value is the
  mean of the per-frame values, as text with three decimals (``-0.125``).

Times are milliseconds from the start of the video (``TIME_UNITS``).
"""
from __future__ import annotations

import os
import uuid
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from vidaffect.results.exports import id_column, id_label
from vidaffect.results.segments import frame_step, id_rows, in_time_order
from vidaffect.utils.atomic import atomic_path

EAF_XSD = "http://www.mpi.nl/tools/elan/EAFv3.0.xsd"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
MIME_TYPES = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mpg": "video/mpeg", ".mpeg": "video/mpeg",
              ".mov": "video/quicktime", ".wav": "audio/x-wav", ".mp3": "audio/*", ".m4a": "audio/*"}
GENERIC_VIDEO = "video/*"  # ELAN's type for media it hands to its generic player


def _ms(t: float) -> int:
    return int(round(float(t) * 1000))


def media_urls(video: str | Path, eaf_path: str | Path) -> tuple[str, str | None]:
    """``(MEDIA_URL, RELATIVE_MEDIA_URL)`` of ``video`` for a document saved at ``eaf_path``."""
    video = Path(video).resolve()
    try:
        rel = os.path.relpath(video, Path(eaf_path).resolve().parent).replace(os.sep, "/")
    except ValueError:  # another drive (Windows): no relative path
        return video.as_uri(), None
    from urllib.parse import quote

    rel = quote(rel)
    return video.as_uri(), rel if rel.startswith("../") else f"./{rel}"


def _unique(labels: list[str], fallbacks: list[str]) -> list[str]:
    """Make tier names unique: a repeated name gets its id appended (``Alice (person 3)``)."""
    counts = pd.Series(labels).value_counts()
    return [f"{lab} ({fb})" if counts[lab] > 1 and lab != fb else lab for lab, fb in zip(labels, fallbacks)]


class VaBinner:
    """:func:`va_bins` fed batch by batch (rows in time order, cut anywhere): each id carries only its open bin,
    so memory is bounded by a batch plus the output (one row per id and ``step_s`` bin)."""

    def __init__(self, by: str, step_s: float = 0.5, step: float = 0.0) -> None:
        self.by, self.step_s, self.step = by, float(step_s), float(step)
        self.done: list[pd.DataFrame] = []
        self.open: pd.DataFrame | None = None  # per id, its latest bin (more of its rows may come)

    @property
    def columns(self) -> list[str]:
        return list(dict.fromkeys(["time_s", "face_id", self.by, "valence", "arousal"]))

    def update(self, batch: pd.DataFrame) -> None:
        if batch.empty or self.by not in batch.columns:
            return
        keep = id_rows(batch, self.by)
        va = [c for c in ("valence", "arousal") if c in batch.columns]
        if va:
            keep &= ~batch[va].isna().all(axis=1).to_numpy()
        if not keep.any():
            return
        rows = batch.loc[keep, [self.by, "time_s", *va]]
        t = rows["time_s"].to_numpy(dtype=np.float64)
        # float64 sums (as groupby's mean makes them)
        rows = rows.assign(_bin=np.floor(t / self.step_s + 1e-9).astype(np.int64),
                           **{c: rows[c].astype(np.float64) for c in va})
        g = rows.groupby([self.by, "_bin"], sort=True)
        part = pd.DataFrame({"t0": g["time_s"].min(), "t1": g["time_s"].max()})
        for c in va:
            part[f"{c}_sum"] = g[c].sum()
            part[f"{c}_n"] = g[c].count()
        if self.open is not None:  # bins continued from the previous batches
            part = pd.concat([self.open, part])
            part = part.groupby(level=[0, 1], sort=True).agg(
                {c: ("min" if c == "t0" else "max" if c == "t1" else "sum") for c in part.columns})
        last = part.groupby(level=0).tail(1)  # each id's latest bin stays open
        self.done.append(part.drop(index=last.index))
        self.open = last

    def result(self) -> pd.DataFrame:
        cols = [self.by, "start_s", "end_s", "valence", "arousal"]
        parts = [p for p in self.done + ([self.open] if self.open is not None else []) if len(p)]
        if not parts:
            return pd.DataFrame(columns=cols)
        part = pd.concat(parts).sort_index()
        out = pd.DataFrame({"start_s": part["t0"], "end_s": part["t1"] + self.step})
        for c in ("valence", "arousal"):
            out[c] = part[f"{c}_sum"] / part[f"{c}_n"].where(part[f"{c}_n"] > 0) if f"{c}_n" in part else np.nan
        out = out.reset_index().drop(columns="_bin")
        # a bin ends where the next one of the same id starts at the latest (frame step > bin when sparse)
        nxt = out.groupby(self.by)["start_s"].shift(-1)
        out["end_s"] = np.where(nxt.notna(), np.minimum(out["end_s"], nxt), out["end_s"])
        return out[cols]


def va_bins(frames: pd.DataFrame, by: str, step_s: float = 0.5) -> pd.DataFrame:
    """Mean valence and arousal per id and ``step_s`` bin: columns id, start_s, end_s, valence, arousal.

    A bin spans the frames seen in it (first frame's time to last frame's time
    plus one frame step), so it never covers time where the face was absent
    for a whole bin.  :func:`results_va_bins` computes the same from a Results in bounded memory.
    """
    cols = [by, "start_s", "end_s", "valence", "arousal"]
    if step_s <= 0 or frames.empty or by not in frames.columns:
        return pd.DataFrame(columns=cols)
    binner = VaBinner(by, step_s, frame_step(frames))
    binner.update(in_time_order(frames))
    return binner.result()


def results_va_bins(results, by: str, step_s: float = 0.5, step: float | None = None) -> pd.DataFrame:
    """:func:`va_bins` of a :class:`~vidaffect.results.Results` read in bounded batches (``step``: the frame
    step when known, else one more pass finds it)."""
    from vidaffect.results.segments import scan_times

    cols = [by, "start_s", "end_s", "valence", "arousal"]
    if step_s <= 0 or by not in results.columns:
        return pd.DataFrame(columns=cols)
    if step is None:
        step = scan_times(results.iter_batches(["time_s"])).step
    binner = VaBinner(by, step_s, step)
    for b in results.iter_batches(binner.columns):
        binner.update(b)
    return binner.result()


class _Doc:
    """Collects time slots and annotations, then serialises them in EAF order."""

    def __init__(self) -> None:
        self.slots: list[int] = []  # ms of each slot, in creation order
        self.tiers: list[tuple[dict, list[tuple[int, int, str]]]] = []  # (attributes, [(slot1, slot2, value)])

    def slot(self, t_s: float) -> int:
        self.slots.append(_ms(t_s))
        return len(self.slots) - 1

    def tier(self, attrs: dict, spans: list[tuple[float, float, str]]) -> None:
        anns: list[tuple[int, int, str]] = []
        for start, end, value in sorted(spans, key=lambda s: s[0]):
            if _ms(end) <= _ms(start):
                continue  # shorter than a millisecond: ELAN refuses empty annotations
            # adjacent annotations of a tier share their boundary's slot, as in ELAN: dragging it moves both
            first = anns[-1][1] if anns and self.slots[anns[-1][1]] == _ms(start) else self.slot(start)
            anns.append((first, self.slot(end), value))
        self.tiers.append((attrs, anns))


def _eaf_tiers(segments: pd.DataFrame, frames: pd.DataFrame | None, va_step_s: float, author: str,
               bins: pd.DataFrame | None) -> _Doc:
    """The time slots and the tiers' annotations of the document."""
    by = id_column(segments)
    doc = _Doc()
    ids = list(dict.fromkeys(segments[by].tolist())) if not segments.empty else []
    names = {}
    if "person_name" in segments.columns:
        for i, n in zip(segments[by], segments["person_name"]):
            names.setdefault(i, n)
    plain = [id_label(by, i) for i in ids]
    labels = dict(zip(ids, _unique([id_label(by, i, names.get(i)) for i in ids], plain)))
    if bins is None and frames is not None and va_step_s > 0:
        bins = va_bins(frames, by, va_step_s)
    for i in ids:
        seg = segments[segments[by] == i].sort_values("start_s")
        attrs = {"LINGUISTIC_TYPE_REF": "emotion", "PARTICIPANT": labels[i], "TIER_ID": labels[i],
                 "ANNOTATOR": author}
        doc.tier(attrs, [(r.start_s, r.end_s, str(r.emotion)) for r in seg.itertuples(index=False)])
        if bins is not None:
            b = bins[bins[by] == i]
            for dim in ("valence", "arousal"):
                spans = [(s, e, f"{v:.3f}") for s, e, v in zip(b["start_s"], b["end_s"], b[dim]) if np.isfinite(v)]
                doc.tier({"LINGUISTIC_TYPE_REF": dim, "PARTICIPANT": labels[i], "TIER_ID": f"{labels[i]} {dim}",
                          "ANNOTATOR": author}, spans)
    return doc


def _eaf_root(doc: _Doc, segments: pd.DataFrame, video, eaf_path, classes: list[str] | None,
              author: str) -> ET.Element:
    """The document without its time slots and annotations (``TIME_ORDER`` and the ``TIER`` elements empty)."""
    root = ET.Element("ANNOTATION_DOCUMENT", {
        "AUTHOR": author, "DATE": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "FORMAT": "3.0", "VERSION": "3.0", "xmlns:xsi": XSI, "xsi:noNamespaceSchemaLocation": EAF_XSD})
    header = ET.SubElement(root, "HEADER", {"MEDIA_FILE": "", "TIME_UNITS": "milliseconds"})
    if video is not None:
        url, rel = media_urls(video, eaf_path or Path(video).with_suffix(".eaf"))
        media = {"MEDIA_URL": url, "MIME_TYPE": MIME_TYPES.get(Path(video).suffix.lower(), GENERIC_VIDEO)}
        if rel is not None:
            media["RELATIVE_MEDIA_URL"] = rel
        ET.SubElement(header, "MEDIA_DESCRIPTOR", media)
    ET.SubElement(header, "PROPERTY", {"NAME": "URN"}).text = f"urn:nl-mpi-tools-elan-eaf:{uuid.uuid4()}"
    n_ann = sum(len(a) for _, a in doc.tiers)
    ET.SubElement(header, "PROPERTY", {"NAME": "lastUsedAnnotationId"}).text = str(n_ann)
    ET.SubElement(root, "TIME_ORDER")
    for attrs, _ in doc.tiers:
        ET.SubElement(root, "TIER", attrs)

    vocab = list(dict.fromkeys([*(classes or []), *(segments["emotion"].astype(str).tolist() if len(segments) else [])]))
    ET.SubElement(root, "LINGUISTIC_TYPE", {"GRAPHIC_REFERENCES": "false", "LINGUISTIC_TYPE_ID": "emotion",
                                            "TIME_ALIGNABLE": "true", "CONTROLLED_VOCABULARY_REF": "emotion"})
    for dim in ("valence", "arousal"):
        ET.SubElement(root, "LINGUISTIC_TYPE", {"GRAPHIC_REFERENCES": "false", "LINGUISTIC_TYPE_ID": dim,
                                                "TIME_ALIGNABLE": "true"})
    ET.SubElement(root, "LANGUAGE", {"LANG_DEF": "http://cdb.iso.org/lg/CDB-00138502-001", "LANG_ID": "eng",
                                     "LANG_LABEL": "English (eng)"})
    for stereotype, description in [
        ("Time_Subdivision", "Time subdivision of parent annotation's time interval, no time gaps allowed within this interval"),
        ("Symbolic_Subdivision", "Symbolic subdivision of a parent annotation. Annotations refering to the same parent are ordered"),
        ("Symbolic_Association", "1-1 association with a parent annotation"),
        ("Included_In", "Time alignable annotations within the parent annotation's time interval, gaps are allowed"),
    ]:
        ET.SubElement(root, "CONSTRAINT", {"DESCRIPTION": description, "STEREOTYPE": stereotype})
    cv = ET.SubElement(root, "CONTROLLED_VOCABULARY", {"CV_ID": "emotion"})
    ET.SubElement(cv, "DESCRIPTION", {"LANG_REF": "eng"}).text = "emotion classes of the expression model"
    for n, c in enumerate(vocab):
        entry = ET.SubElement(cv, "CV_ENTRY_ML", {"CVE_ID": f"cveid_{n}"})
        ET.SubElement(entry, "CVE_VALUE", {"DESCRIPTION": "", "LANG_REF": "eng"}).text = c
    return root


def _slot_order(doc: _Doc) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(ms of each slot, slots in time order, each slot's number - 1)``: slots are numbered in time order
    (ts1 earliest, ties in creation order), as ELAN writes them."""
    ms = np.asarray(doc.slots, dtype=np.int64)
    order = np.lexsort((np.arange(len(ms)), ms))
    rank = np.empty(len(ms), dtype=np.int64)
    rank[order] = np.arange(len(ms))
    return ms, order, rank


def _annotations(tier: ET.Element, anns: list[tuple[int, int, str]], rank: np.ndarray, done: int) -> int:
    """Add a tier's annotations (numbered from ``done + 1``); return the number of annotations so far."""
    for s1, s2, value in anns:
        done += 1
        a = ET.SubElement(ET.SubElement(tier, "ANNOTATION"), "ALIGNABLE_ANNOTATION", {
            "ANNOTATION_ID": f"a{done}", "TIME_SLOT_REF1": f"ts{rank[s1] + 1}", "TIME_SLOT_REF2": f"ts{rank[s2] + 1}"})
        ET.SubElement(a, "ANNOTATION_VALUE").text = value
    return done


def eaf_document(segments: pd.DataFrame, video: str | Path | None = None, eaf_path: str | Path | None = None,
                 frames: pd.DataFrame | None = None, va_step_s: float = 0.5, classes: list[str] | None = None,
                 author: str = "vidaffect", bins: pd.DataFrame | None = None) -> ET.ElementTree:
    """The EAF 3.0 document of ``segments`` (see the module docstring); ``frames`` adds valence/arousal tiers,
    or ``bins``, the :func:`va_bins` already made (e.g. by :func:`results_va_bins`)."""
    doc = _eaf_tiers(segments, frames, va_step_s, author, bins)
    root = _eaf_root(doc, segments, video, eaf_path, classes, author)
    ms, order, rank = _slot_order(doc)
    time_order = root.find("TIME_ORDER")
    for n, k in enumerate(order):
        ET.SubElement(time_order, "TIME_SLOT", {"TIME_SLOT_ID": f"ts{n + 1}", "TIME_VALUE": str(ms[k])})
    done = 0
    for tier, (_, anns) in zip(root.findall("TIER"), doc.tiers):
        done = _annotations(tier, anns, rank, done)
    tree = ET.ElementTree(root)
    ET.indent(tree, space="    ")
    return tree


def write_eaf(segments: pd.DataFrame, path: str | Path, video: str | Path | None = None,
              frames: pd.DataFrame | None = None, va_step_s: float = 0.5, classes: list[str] | None = None,
              author: str = "vidaffect", bins: pd.DataFrame | None = None) -> Path:
    """Write the ELAN document of ``segments`` to ``path`` atomically (UTF-8, XML declaration); return the path.

    The file is :func:`eaf_document` serialised, written part by part (the time slots as text, one tier's
    elements at a time): a long video's document (tens of thousands of annotations) is never held whole as
    XML elements."""
    doc = _eaf_tiers(segments, frames, va_step_s, author, bins)
    root = _eaf_root(doc, segments, video, path, classes, author)
    ms, order, rank = _slot_order(doc)
    shell = ET.Element(root.tag, root.attrib)
    shell.text = "-"
    start = ET.tostring(shell, encoding="unicode")[: -len(f"-</{root.tag}>")]
    tiers = iter(doc.tiers)
    done = 0
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write('<?xml version="1.0" encoding="UTF-8"?>\n' + start)
            for child in root:
                fh.write("\n    ")
                if child.tag == "TIME_ORDER":
                    if not len(order):
                        fh.write("<TIME_ORDER />")
                        continue
                    fh.write("<TIME_ORDER>")
                    for lo in range(0, len(order), 4096):
                        fh.write("".join(f'\n        <TIME_SLOT TIME_SLOT_ID="ts{n + 1}" TIME_VALUE="{ms[k]}" />'
                                         for n, k in enumerate(order[lo:lo + 4096], lo)))
                    fh.write("\n    </TIME_ORDER>")
                    continue
                if child.tag == "TIER":
                    done = _annotations(child, next(tiers)[1], rank, done)
                ET.indent(child, space="    ", level=1)
                fh.write(ET.tostring(child, encoding="unicode"))
                if child.tag == "TIER":
                    del child[:]  # written: drop its elements
            fh.write("\n</" + root.tag + ">\n")
    return Path(path)
