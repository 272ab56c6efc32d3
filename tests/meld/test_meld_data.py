"""MELD CSV loading (quirks included) and the subset builder."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from vidaffect.cli.main import main
from vidaffect.errors import VidaffectError
from vidaffect.meld.data import attach_clips, clip_name, decode_text, read_meld_csv
from vidaffect.meld.subsets import SIZES, build_subset, choose_dialogues

from meld_synth import write_csv


def _big_csv(path, dialogues=100, per=3, dyadic=False):
    rows = []
    for d in range(dialogues):
        for u in range(per):
            r = {"Sr No.": len(rows) + 1, "Utterance": f"line {u} of {d}", "Speaker": "Ross", "Emotion": "neutral",
                 "Sentiment": "neutral", "Dialogue_ID": d, "Utterance_ID": u, "Season": 1, "Episode": 2,
                 "StartTime": "00:00:01,000", "EndTime": "00:00:02,000"}
            if dyadic:
                r.pop("Sr No.")
                r.update(Old_Dialogue_ID=d + 1000, Old_Utterance_ID=u + 5)
            rows.append(r)
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_reads_csv_with_non_utf8_bytes(tmp_path):
    df = read_meld_csv(write_csv(tmp_path / "m.csv"))
    assert len(df) == 6 and not df["dyadic"].any()
    row = df.set_index("key").loc["0_1"]
    assert row["Utterance"] == "I don't know what to do."  # the cp1252 0x92 quote
    assert row["clip_name"] == "dia0_utt1.mp4" and row["StartTime"] == "00:01:02,504"
    assert clip_name(12, 3) == "dia12_utt3.mp4"


def test_decode_mixes_utf8_and_cp1252_lines():
    raw = "caf\u00e9\n".encode() + b"don\x92t\n"
    assert decode_text(raw) == "caf\u00e9\ndon\u2019t\n"


def test_missing_clips_are_marked(tmp_path):
    df = read_meld_csv(write_csv(tmp_path / "m.csv"))
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "dia0_utt0.mp4").write_bytes(b"x")
    out = attach_clips(df, tmp_path / "clips")
    assert out["clip"].notna().tolist() == [True, False, False, False, False, False]
    with pytest.raises(VidaffectError, match="clips folder not found"):
        attach_clips(df, tmp_path / "nope")


def test_dyadic_variant_and_bad_files(tmp_path):
    df = read_meld_csv(_big_csv(tmp_path / "dy.csv", dialogues=2, dyadic=True))
    assert df["dyadic"].all() and "Old_Dialogue_ID" in df.columns and len(df) == 6
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(VidaffectError, match="missing column"):
        read_meld_csv(tmp_path / "bad.csv")
    with pytest.raises(VidaffectError, match="not found"):
        read_meld_csv(tmp_path / "absent.csv")


def test_subsets_are_disjoint_nested_and_seeded(tmp_path):
    df = read_meld_csv(_big_csv(tmp_path / "train.csv"))
    picks = {name: choose_dialogues(df, size, seed=0) for name, size in SIZES.items()}
    for name, size in SIZES.items():
        p = picks[name]
        assert tuple(len(p[s]) for s in ("train", "dev", "test")) == size
        assert not (set(p["train"]) & set(p["dev"])) and not (set(p["dev"]) & set(p["test"]))
        assert not (set(p["train"]) & set(p["test"]))
    for split in ("train", "dev", "test"):
        assert set(picks["small"][split]) <= set(picks["medium"][split]) <= set(picks["large"][split])
    assert choose_dialogues(df, (16, 2, 2), seed=0) == picks["small"]
    assert choose_dialogues(df, (16, 2, 2), seed=1) != picks["small"]
    sub = build_subset(df, (16, 2, 2))
    assert len(sub["train"]) == 16 * 3
    key, fields = next(iter(sub["dev"].items()))
    assert key == f"{fields['Dialogue_ID']}_{fields['Utterance_ID']}" and fields["Speaker"] == "Ross"
    with pytest.raises(VidaffectError, match="asked for"):
        choose_dialogues(df, (100, 1, 1))


def test_subset_cli_writes_json_keyed_by_utterance(tmp_path):
    csv = _big_csv(tmp_path / "train.csv")
    out = tmp_path / "subsets"
    assert main(["meld", "subset", "--csv", str(csv), "--dialogues", "16", "2", "2", "--seed", "0", "-o", str(out), "-q"]) == 0
    data = {s: json.loads((out / "small" / f"{s}.json").read_text()) for s in ("train", "dev", "test")}
    assert len({k.split("_")[0] for k in data["train"]}) == 16 and len(data["test"]) == 2 * 3
    first_key, first = next(iter(data["train"].items()))
    assert first_key == f"{first['Dialogue_ID']}_{first['Utterance_ID']}"
    assert set(first) >= {"Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "StartTime", "EndTime"}
    assert main(["meld", "subset", "--csv", str(csv), "-o", str(out), "-q"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["large", "medium", "small"]
    assert main(["meld", "subset", "--csv", str(tmp_path / "nope.csv"), "-o", str(out), "-q"]) == 1
