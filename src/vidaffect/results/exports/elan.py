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
from vidaffect.results.segments import frame_step
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


def va_bins(frames: pd.DataFrame, by: str, step_s: float = 0.5) -> pd.DataFrame:
    """Mean valence and arousal per id and ``step_s`` bin: columns id, start_s, end_s, valence, arousal.

    A bin spans the frames seen in it (first frame's time to last frame's time
    plus one frame step), so it never covers time where the face was absent
    for a whole bin.
    """
    cols = [by, "start_s", "end_s", "valence", "arousal"]
    if step_s <= 0 or frames.empty or by not in frames.columns:
        return pd.DataFrame(columns=cols)
    rows = frames[(frames["face_id"] >= 0) & frames[by].notna()]
    if rows[by].dtype.kind in "iuf":
        rows = rows[rows[by] >= 0]
    rows = rows.dropna(subset=[c for c in ("valence", "arousal") if c in rows.columns], how="all")
    if rows.empty:
        return pd.DataFrame(columns=cols)
    step = frame_step(frames)
    rows = rows.assign(_bin=np.floor(rows["time_s"].to_numpy(dtype=np.float64) / step_s + 1e-9).astype(np.int64))
    g = rows.groupby([by, "_bin"], sort=True)
    out = pd.DataFrame({
        "start_s": g["time_s"].min(), "end_s": g["time_s"].max() + step,
        "valence": g["valence"].mean() if "valence" in rows else np.nan,
        "arousal": g["arousal"].mean() if "arousal" in rows else np.nan,
    }).reset_index()
    # a bin ends where the next one of the same id starts at the latest (frame step > bin when sparse)
    nxt = out.groupby(by)["start_s"].shift(-1)
    out["end_s"] = np.where(nxt.notna(), np.minimum(out["end_s"], nxt), out["end_s"])
    return out[cols]


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


def eaf_document(segments: pd.DataFrame, video: str | Path | None = None, eaf_path: str | Path | None = None,
                 frames: pd.DataFrame | None = None, va_step_s: float = 0.5, classes: list[str] | None = None,
                 author: str = "vidaffect") -> ET.ElementTree:
    """The EAF 3.0 document of ``segments`` (see the module docstring); ``frames`` adds valence/arousal tiers."""
    by = id_column(segments)
    doc = _Doc()
    ids = list(dict.fromkeys(segments[by].tolist())) if not segments.empty else []
    names = {}
    if "person_name" in segments.columns:
        for i, n in zip(segments[by], segments["person_name"]):
            names.setdefault(i, n)
    plain = [id_label(by, i) for i in ids]
    labels = dict(zip(ids, _unique([id_label(by, i, names.get(i)) for i in ids], plain)))
    bins = va_bins(frames, by, va_step_s) if frames is not None and va_step_s > 0 else None
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

    # time slots numbered in time order (ts1 earliest), as ELAN writes them
    order = sorted(range(len(doc.slots)), key=lambda k: (doc.slots[k], k))
    slot_id = {k: f"ts{n + 1}" for n, k in enumerate(order)}
    time_order = ET.SubElement(root, "TIME_ORDER")
    for k in order:
        ET.SubElement(time_order, "TIME_SLOT", {"TIME_SLOT_ID": slot_id[k], "TIME_VALUE": str(doc.slots[k])})
    ann_no = 0
    for attrs, anns in doc.tiers:
        tier = ET.SubElement(root, "TIER", attrs)
        for s1, s2, value in anns:
            ann_no += 1
            a = ET.SubElement(ET.SubElement(tier, "ANNOTATION"), "ALIGNABLE_ANNOTATION", {
                "ANNOTATION_ID": f"a{ann_no}", "TIME_SLOT_REF1": slot_id[s1], "TIME_SLOT_REF2": slot_id[s2]})
            ET.SubElement(a, "ANNOTATION_VALUE").text = value

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
    tree = ET.ElementTree(root)
    ET.indent(tree, space="    ")
    return tree


def write_eaf(segments: pd.DataFrame, path: str | Path, video: str | Path | None = None,
              frames: pd.DataFrame | None = None, va_step_s: float = 0.5, classes: list[str] | None = None,
              author: str = "vidaffect") -> Path:
    """Write the ELAN document of ``segments`` to ``path`` atomically (UTF-8, XML declaration); return the path."""
    tree = eaf_document(segments, video=video, eaf_path=path, frames=frames, va_step_s=va_step_s,
                        classes=classes, author=author)
    body = ET.tostring(tree.getroot(), encoding="unicode")
    with atomic_path(path) as tmp:
        tmp.write_bytes(('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n").encode("utf-8"))
    return Path(path)
