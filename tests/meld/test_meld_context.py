"""Conversation-aware text model (context modality), dev-learned fusion and the sentiment label.

The synthetic tests replace the sentence model by a fixed random embedding per text, so they run
in seconds without the 'meld-text' extra; the real-table tests use ../shared/data/meld.
"""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from vidaffect.cli.main import main
from vidaffect.errors import VidaffectError
from vidaffect.meld.data import EMOTIONS, SENTIMENTS
from vidaffect.meld.fusion import Fuser, late_fusion, simplex_grid


def fake_embed(texts: list[str]) -> np.ndarray:
    """A fixed unit-length random 384-d vector per distinct text (stands in for all-MiniLM-L6-v2)."""
    out = np.empty((len(texts), 384), np.float32)
    for i, t in enumerate(texts):
        seed = int.from_bytes(hashlib.sha1(t.encode()).digest()[:4], "little")
        v = np.random.default_rng(seed).normal(size=384)
        out[i] = v / np.linalg.norm(v)
    return out


@pytest.fixture
def fake_sentence_model(monkeypatch, tmp_path):
    """The sentence model replaced by :func:`fake_embed`; the embedding cache in a temporary home."""
    import vidaffect.meld.text as text

    calls = []

    def embed(texts, batch_size=32):
        calls.append(len(texts))
        return fake_embed(texts)

    monkeypatch.setattr(text, "sentence_embeddings", embed)
    monkeypatch.setenv("VIDAFFECT_HOME", str(tmp_path / "home"))
    return calls


NEWS = {"good": ("We won the lottery today.", "joy", "positive"),
        "bad": ("Grandma passed away this morning.", "sadness", "negative"),
        "rude": ("You ate my sandwich again, didn't you?", "anger", "negative")}


def dialogue_table(n_dialogues: int, seed: int, start_id: int = 0) -> pd.DataFrame:
    """Dialogues of 2-4 utterances; the last one is an ambiguous reply whose label is the first one's.

    "Really?" after good news is joy, after bad news sadness, after a rude question anger: only the
    dialogue tells.  Fillers are neutral.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for d in range(start_id, start_id + n_dialogues):
        kind = rng.choice(list(NEWS))
        text, emo, sent = NEWS[kind]
        utts = [("Ross", text, "neutral", "neutral")]
        for f in range(int(rng.integers(0, 3))):
            utts.append(("Joey" if f % 2 else "Ross", f"Filler line {int(rng.integers(0, 5))}.", "neutral", "neutral"))
        utts.append(("Rachel", rng.choice(["Really?", "Oh my God.", "What?"]), emo, sent))
        for u, (spk, t, e, s) in enumerate(utts):
            rows.append({"Utterance": t, "Speaker": spk, "Emotion": e, "Sentiment": s, "Dialogue_ID": d,
                         "Utterance_ID": u})
    df = pd.DataFrame(rows)
    df = df.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # row order must not matter
    from vidaffect.meld.data import normalize_meld_table

    return normalize_meld_table(df, "synthetic")


def write_table(df: pd.DataFrame, path) -> str:
    df.drop(columns=["key", "clip_name", "dyadic"]).to_csv(path, index=False)
    return str(path)


# ----- the sentiment label (issue 19: per-class scores came out under the emotion names) -----

def test_sentiment_scores_use_the_three_sentiments():
    rng = np.random.default_rng(0)

    def table(n):
        y = rng.choice(list(SENTIMENTS), n)
        code = np.array([SENTIMENTS.index(c) for c in y])
        emo = rng.choice(list(EMOTIONS), n)
        return pd.DataFrame({"Emotion": emo, "Sentiment": y, "text_a": code + 0.1 * rng.normal(size=n),
                             "audio_a": rng.normal(size=n)})

    train, test = table(150), table(90)
    r = late_fusion(train, test, ("text", "audio"), label="Sentiment").report
    for m in ("text", "audio", "fused"):
        assert r[m]["classes"] == list(SENTIMENTS)
        assert set(r[m]["per_class_f1"]) == set(SENTIMENTS)
        assert np.array(r[m]["confusion"]).shape == (3, 3) and np.array(r[m]["confusion"]).sum() == 90
    assert r["text"]["weighted_f1"] > 0.95 and r["text"]["macro_f1"] > 0.95
    from sklearn.metrics import f1_score

    res = late_fusion(train, test, ("text",), label="Sentiment")
    p = res.predictions
    assert r["text"]["macro_f1"] == pytest.approx(f1_score(p["true"], p["text"], average="macro"))
    with pytest.raises(VidaffectError, match="unknown Sentiment"):
        late_fusion(train, test.assign(Sentiment="joy"), ("text",), label="Sentiment")
    with pytest.raises(VidaffectError, match="unknown label"):
        late_fusion(train, test, ("text",), label="Mood")


def test_sentiment_cli_report(tmp_path):
    rng = np.random.default_rng(1)
    y = rng.choice(list(SENTIMENTS), 120)
    df = pd.DataFrame({"key": [f"{i}_0" for i in range(120)], "Emotion": "neutral", "Sentiment": y,
                       "text_a": [SENTIMENTS.index(c) + 0.1 * rng.normal() for c in y]}).set_index("key")
    df.to_csv(tmp_path / "f.csv")
    out = tmp_path / "r.json"
    assert main(["meld", "eval", "--train", str(tmp_path / "f.csv"), "--test", str(tmp_path / "f.csv"),
                 "--label", "Sentiment", "--modalities", "text", "-o", str(out), "-q"]) == 0
    r = json.loads(out.read_text())
    assert list(r["text"]["per_class_f1"]) == list(SENTIMENTS) and r["text"]["macro_f1"] > 0.95


# ----- fusion learned on dev -----

def _modal_tables(rng, n, audio_informative: bool):
    classes = list(EMOTIONS[:4])
    y = rng.choice(classes, n, p=[0.4, 0.3, 0.2, 0.1])
    code = np.array([classes.index(c) for c in y])
    audio = code if audio_informative else rng.integers(0, 4, n)  # learnt on train, useless elsewhere
    return pd.DataFrame({"Emotion": y, "Sentiment": "neutral", "text_a": code + 0.6 * rng.normal(size=n),
                         "audio_a": audio + 0.1 * rng.normal(size=n), "face_a": rng.normal(size=n)})


def test_weighted_and_stacked_fusion_learn_to_ignore_a_misleading_modality():
    rng = np.random.default_rng(0)
    train, dev, test = _modal_tables(rng, 400, True), _modal_tables(rng, 300, False), _modal_tables(rng, 300, False)
    mods = ("text", "audio", "face")
    mean = late_fusion(train, test, mods).report
    weighted = late_fusion(train, test, mods, dev=dev, fusion="weighted").report
    stack = late_fusion(train, test, mods, dev=dev, fusion="stack").report
    assert mean["fused"]["fusion"] == "mean" and stack["fused"]["fusion"] == "stack"
    assert late_fusion(train, test, mods, dev=dev).report["fused"]["fusion"] == "weighted"  # the default with dev
    w = weighted["fused"]["weights"]
    assert w["text"] >= 0.8 and w["audio"] <= 0.1 and sum(w.values()) == pytest.approx(1.0)
    text = weighted["text"]["weighted_f1"]
    assert mean["fused"]["weighted_f1"] < text - 0.1  # the average follows the confident, misleading audio
    assert weighted["fused"]["weighted_f1"] > text - 0.02
    assert stack["fused"]["weighted_f1"] > text - 0.04
    assert stack["fused"]["dev_n"] == 300 and "dev_weighted_f1" in stack["fused"]
    # class weights chosen on dev per modality
    assert stack["text"]["classifier"].startswith("logistic regression, class weight")
    from vidaffect.meld.fusion import format_report

    assert "fusion: stack, learned on 300 dev utterances" in format_report(stack)
    assert "fusion: weighted (text " in format_report(weighted)
    with pytest.raises(VidaffectError, match="--dev"):
        late_fusion(train, test, mods, fusion="stack")


def test_simplex_grid_and_fuser():
    g = simplex_grid(3, 0.25)
    assert len(g) == 15 and np.allclose(g.sum(1), 1) and (g >= 0).all()
    p1 = np.array([[0.9, 0.1], [0.2, 0.8]])
    p2 = np.array([[0.4, 0.6], [0.6, 0.4]])
    f = Fuser.fit("weighted", [p1, p2], np.array(["a", "b"]), ("a", "b"))
    assert f.weights[0] > f.weights[1]
    np.testing.assert_allclose(f.proba([p1, p2]).sum(1), 1.0)
    assert Fuser.fit("mean", [p1, p2], None, ("a", "b")).proba([p1, p2])[0, 0] == pytest.approx(0.65)


def test_probability_modality_is_used_as_given():
    rng = np.random.default_rng(3)
    n = 60
    y = rng.choice(list(EMOTIONS), n)
    p = np.full((n, 7), 0.01)
    p[np.arange(n), [EMOTIONS.index(c) for c in y]] = 0.94
    df = pd.DataFrame(p, columns=[f"context_emotion_{c}" for c in EMOTIONS])
    df["Emotion"], df["Sentiment"] = y, "neutral"
    for c in SENTIMENTS:
        df[f"context_sentiment_{c}"] = 1 / 3
    # training labels shuffled: a refit would learn nothing; used as given, the probabilities are right
    train = df.assign(Emotion=rng.permutation(y))
    r = late_fusion(train, df, ("context",)).report
    assert r["context"]["weighted_f1"] == 1.0 and r["context"]["classifier"] == "as given"
    assert r["context"]["features"] == 7


# ----- the context model -----

def test_dialogue_windows_by_hand():
    from vidaffect.meld.context import dialogue_windows, window_features

    df = pd.DataFrame({"Dialogue_ID": [1, 0, 0, 0, 1], "Utterance_ID": [0, 2, 0, 1, 1],
                       "Speaker": ["A", "B", "A", "B", "C"]})
    idx, same = dialogue_windows(df, 2)
    # dialogue 0 in utterance order is rows 2, 3, 1; dialogue 1 is rows 0, 4
    assert idx[2].tolist() == [-1, -1, 2] and idx[3].tolist() == [-1, 2, 3] and idx[1].tolist() == [2, 3, 1]
    assert idx[4].tolist() == [-1, 0, 4]
    assert same[1].tolist() == [0, 1, 1] and same[4].tolist() == [0, 0, 1]
    emb = np.arange(10, dtype=np.float32).reshape(5, 2)
    x = window_features(emb, idx, same)
    assert x.shape == (5, 3, 4)
    assert x[3, 0].tolist() == [0, 0, 0, 0]  # padding
    assert x[3, 1].tolist() == [4, 5, 0, 1] and x[3, 2].tolist() == [6, 7, 1, 1]


def test_embedding_cache(fake_sentence_model, tmp_path):
    from vidaffect.meld.context import cached_sentence_embeddings, embedding_cache_dir

    a = cached_sentence_embeddings(["one", "two"])
    b = cached_sentence_embeddings(["one", "two"])
    np.testing.assert_array_equal(a, b)
    assert fake_sentence_model == [2]  # the second call was read from the cache
    assert embedding_cache_dir() == tmp_path / "home" / "cache" / "meld"
    assert len(list(embedding_cache_dir().glob("minilm_*.npy"))) == 1
    cached_sentence_embeddings(["one", "three"])
    assert fake_sentence_model == [2, 2]


def test_context_model_uses_the_dialogue(fake_sentence_model, tmp_path):
    from vidaffect.meld.context import context_probabilities, load_context_model, train_context_model

    train, dev, test = dialogue_table(300, 0), dialogue_table(60, 1, 1000), dialogue_table(80, 2, 2000)
    res = train_context_model(train, dev, test, seed=0, heads=2, epochs=15, k=3, hidden=32, lr=3e-3)
    replies = test["Speaker"] == "Rachel"
    pe, ps = res.model.predict(test)
    pred = np.asarray(EMOTIONS)[pe.argmax(1)]
    # the reply alone is ambiguous; with the first utterance of its dialogue it is not
    assert (pred[replies] == test.loc[replies, "Emotion"].to_numpy()).mean() > 0.95
    assert res.scores["test"]["emotion"]["weighted_f1"] > 0.95
    assert res.scores["test"]["sentiment"]["weighted_f1"] > 0.95
    np.testing.assert_allclose(pe.sum(1), 1, atol=1e-5)
    assert [h["seed"] for h in res.heads] == [0, 1]
    path = res.model.save(tmp_path / "ctx.safetensors")
    cfg = json.loads(path.with_suffix(".json").read_text())
    assert cfg["arch"] == "meld-context-gru" and cfg["arch_kwargs"]["k"] == 3 and cfg["arch_kwargs"]["heads"] == 2
    assert cfg["scores"]["test"]["emotion"]["weighted_f1"] == pytest.approx(
        res.scores["test"]["emotion"]["weighted_f1"], abs=1e-4)
    again = load_context_model(path)
    pe2, _ = again.predict(test)
    np.testing.assert_allclose(pe, pe2, atol=5e-3)  # weights stored as float16
    assert (pe.argmax(1) == pe2.argmax(1)).mean() > 0.99
    from safetensors.numpy import load_file

    assert {v.dtype for v in load_file(str(path)).values()} == {np.dtype("float16")}
    probs = context_probabilities(test, again)
    assert list(probs.columns[:7]) == [f"context_emotion_{c}" for c in EMOTIONS] and len(probs) == len(test)
    # utterance-only baseline cannot solve the replies: same embedding for "Really?" in every dialogue
    assert len(set(test.loc[replies, "Emotion"])) == 3


def test_context_model_same_seed_same_model(fake_sentence_model):
    from vidaffect.meld.context import train_context_model

    train, dev = dialogue_table(60, 0), dialogue_table(20, 1, 1000)
    a = train_context_model(train, dev, seed=3, heads=1, epochs=2, k=2, hidden=16)
    b = train_context_model(train, dev, seed=3, heads=1, epochs=2, k=2, hidden=16)
    for (ka, va), (kb, vb) in zip(a.model.net.state_dict().items(), b.model.net.state_dict().items()):
        assert ka == kb and np.array_equal(va.numpy(), vb.numpy())


def test_train_text_features_and_eval_cli(fake_sentence_model, tmp_path, capsys):
    train = write_table(dialogue_table(200, 0), tmp_path / "train.csv")
    dev = write_table(dialogue_table(50, 1, 1000), tmp_path / "dev.csv")
    test = write_table(dialogue_table(60, 2, 2000), tmp_path / "test.csv")
    model = tmp_path / "m" / "ctx.safetensors"
    assert main(["meld", "train-text", "--train", train, "--dev", dev, "--test", test, "-o", str(model),
                 "--heads", "1", "--epochs", "15", "--lr", "3e-3", "--context", "3", "--hidden", "32", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "test" in out and model.is_file() and model.with_suffix(".json").is_file()
    feats = {}
    for name, csv in (("train", train), ("dev", dev), ("test", test)):
        feats[name] = tmp_path / f"{name}.parquet"
        assert main(["meld", "features", "--csv", csv, "--modalities", "context,textemb", "--context-model",
                     str(model), "-o", str(feats[name]), "-q"]) == 0
    df = pd.read_parquet(feats["test"])
    assert df.filter(like="context_emotion_").shape[1] == 7 and df.filter(like="textemb_").shape[1] == 384
    np.testing.assert_allclose(df.filter(like="context_sentiment_").sum(axis=1), 1, atol=1e-5)
    for label in ("Emotion", "Sentiment"):
        report = tmp_path / f"{label}.json"
        assert main(["meld", "eval", "--train", str(feats["train"]), "--dev", str(feats["dev"]), "--test",
                     str(feats["test"]), "--label", label, "-o", str(report), "-q"]) == 0
        r = json.loads(report.read_text())
        assert set(r) == {"textemb", "context", "fused"}
        assert r["context"]["weighted_f1"] > 0.95 and r["fused"]["weighted_f1"] > 0.9
        assert r["fused"]["fusion"] == "weighted" and len(r["fused"]["classes"]) == (7 if label == "Emotion" else 3)
    # errors are one line
    assert main(["meld", "train-text", "--train", train, "--dev", dev, "-o", str(tmp_path / "x.pt"), "-q"]) == 1
    assert main(["meld", "features", "--csv", test, "--modalities", "context", "--context-model",
                 str(tmp_path / "missing.safetensors"), "-o", str(tmp_path / "f.csv"), "-q"]) == 1
    assert "checkpoint weights not found" in capsys.readouterr().err


def test_shipped_context_model_loads():
    from vidaffect.meld.context import DEFAULT_WEIGHTS, load_context_model

    if not DEFAULT_WEIGHTS.is_file():
        pytest.skip(f"{DEFAULT_WEIGHTS.name} not shipped")
    m = load_context_model()
    assert m.config["encoder"] == "all-MiniLM-L6-v2" and m.config["classes"]["emotion"] == list(EMOTIONS)
    assert m.config["scores"]["test"]["emotion"]["weighted_f1"] > 0.5
