"""A tiny MELD-format data set made from the shared videos: CSV + short clips with a synthetic voice."""
from __future__ import annotations

import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np

VIDEOS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "videos"
FPS = 10
SR = 16000

# (dialogue, utterance, speaker, emotion, sentiment, utterance bytes, clip recipe or None = missing clip)
ROWS = [
    (0, 0, "Mina", "joy", "positive", b"Oh my God, this is great!", ("side", 0.0)),
    (0, 1, "Ruth", "sadness", "negative", b"I don\x92t know what to do.", ("WolfgangLanger_Pexels.mp4", 3.0)),
    (1, 0, "Joey", "neutral", "neutral", b"How you doin?", ("multi_face.avi", 0.0)),
    (1, 1, "Ross", "anger", "negative", b"We were on a break!", None),
    (2, 0, "Mina", "surprise", "positive", b"Really? No way!", ("single_face.mp4", 0.0)),
    (2, 1, "Ruth", "joy", "positive", b"That is wonderful, I love it.", ("WolfgangLanger_Pexels.mp4", 12.0)),
]
HEADER = "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime\n"


def write_csv(path: Path) -> Path:
    lines = [HEADER.encode()]
    for i, (d, u, spk, emo, sent, text, _) in enumerate(ROWS):
        quoted = b'"' + text.replace(b'"', b'""') + b'"'
        lines.append(b"%d,%s,%s,%s,%s,%d,%d,3,7,00:01:02,504,00:01:04,504\n" % (
            i + 1, quoted, spk.encode(), emo.encode(), sent.encode(), d, u))
    # StartTime/EndTime hold commas in MELD ("00:14:38,127"): quote them
    fixed = [lines[0]] + [ln.replace(b"00:01:02,504,00:01:04,504", b'"00:01:02,504","00:01:04,504"') for ln in lines[1:]]
    path.write_bytes(b"".join(fixed))
    return path


def _frames(name: str, start: float, seconds: float, size: tuple[int, int]) -> list[np.ndarray]:
    from PIL import Image

    from vidaffect.video import open_video

    out = []
    for f in open_video(VIDEOS / name, fps=FPS, start=start, end=start + seconds):
        out.append(np.asarray(Image.fromarray(f.image).resize(size)))
    return out


def side_by_side_frames(seconds: float = 2.2) -> list[np.ndarray]:
    """single_face.mp4 live on the left, one frozen frame of WolfgangLanger on the right (320x180 each)."""
    live = _frames("single_face.mp4", 0.0, seconds, (320, 180))
    frozen = _frames("WolfgangLanger_Pexels.mp4", 2.0, 0.1, (320, 180))[0]
    return [np.concatenate([f, frozen], axis=1) for f in live]


def voice(text: str, seconds: float) -> np.ndarray:
    """espeak-ng speech of ``text`` (a 220 Hz tone when espeak-ng is absent), mono float32 at 16 kHz."""
    n = int(seconds * SR)
    exe = shutil.which("espeak-ng")
    if exe:
        import io
        import wave

        wav = subprocess.run([exe, "--stdout", text], capture_output=True, check=True).stdout
        with wave.open(io.BytesIO(wav)) as w:
            sr, raw = w.getframerate(), w.readframes(w.getnframes())
        x = np.frombuffer(raw, dtype=np.int16).astype(np.float32) / 32768
        x = np.interp(np.arange(0, len(x) / sr, 1 / SR), np.arange(len(x)) / sr, x).astype(np.float32)
    else:
        x = 0.3 * np.sin(2 * np.pi * 220 * np.arange(n) / SR).astype(np.float32)
    return np.pad(x, (0, max(0, n - len(x))))[:n]


def write_clip(path: Path, frames: list[np.ndarray], audio: np.ndarray | None) -> Path:
    """H.264 + AAC MP4 at 10 fps."""
    import av

    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=FPS)
        vs.height, vs.width = frames[0].shape[:2]
        vs.pix_fmt = "yuv420p"
        vs.options = {"preset": "ultrafast", "crf": "20"}
        astream = out.add_stream("aac", rate=SR, layout="mono") if audio is not None else None
        for f in frames:
            for p in vs.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
        if astream is not None:
            step = 1024
            for i in range(0, len(audio), step):
                chunk = audio[i:i + step]
                af = av.AudioFrame.from_ndarray(chunk[None, :].astype(np.float32), format="fltp", layout="mono")
                af.sample_rate, af.pts, af.time_base = SR, i, Fraction(1, SR)
                for p in astream.encode(af):
                    out.mux(p)
            for p in astream.encode():
                out.mux(p)
    return path


def write_dataset(root: Path, seconds: float = 2.0) -> tuple[Path, Path]:
    """``root/train_sent_emo.csv`` and ``root/clips/dia*_utt*.mp4`` (one clip missing on purpose)."""
    clips = root / "clips"
    clips.mkdir(parents=True, exist_ok=True)
    csv = write_csv(root / "train_sent_emo.csv")
    for d, u, _, _, _, text, recipe in ROWS:
        if recipe is None:
            continue
        name, start = recipe
        frames = side_by_side_frames(seconds) if name == "side" else _frames(name, start, seconds, (320, 180))
        write_clip(clips / f"dia{d}_utt{u}.mp4", frames, voice(text.decode("cp1252"), len(frames) / FPS))
    return csv, clips
