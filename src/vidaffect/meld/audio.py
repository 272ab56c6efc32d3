"""Audio of an utterance clip (PyAV) and its eGeMAPS functionals (openSMILE)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from vidaffect.errors import VidaffectError

SAMPLE_RATE = 16000
MELD_INSTALL_HINT = "MELD audio/text features need the 'meld' extra: pip install 'vidaffect[meld]' (opensmile, vaderSentiment)"


def read_audio(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Mono float32 samples in [-1, 1] of the clip's first audio stream, resampled to ``sample_rate``."""
    import av

    path = Path(path)
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise VidaffectError(f"{path}: cannot open ({exc})") from None
    try:
        if not container.streams.audio:
            raise VidaffectError(f"{path}: no audio track")
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        chunks = []
        for frame in container.decode(container.streams.audio[0]):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    except av.error.FFmpegError as exc:
        raise VidaffectError(f"{path}: cannot decode audio ({exc})") from None
    finally:
        container.close()
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)


_SMILE = None


def egemaps(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> dict[str, float]:
    """The 88 eGeMAPS v02 functionals of a mono signal (openSMILE)."""
    global _SMILE
    try:
        import opensmile
    except ImportError as exc:
        raise VidaffectError(MELD_INSTALL_HINT) from exc
    if _SMILE is None:
        _SMILE = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                                 feature_level=opensmile.FeatureLevel.Functionals)
    samples = np.asarray(samples, dtype=np.float32)
    if len(samples) < sample_rate // 10:  # openSMILE needs some signal; pad very short clips with silence
        samples = np.pad(samples, (0, sample_rate // 10 - len(samples)))
    df = _SMILE.process_signal(samples, sample_rate)
    return {k: float(v) for k, v in df.iloc[0].items()}


def audio_features(clip: str | os.PathLike) -> dict[str, float]:
    """eGeMAPS functionals of a clip's audio track (prefixed ``audio_``)."""
    return {f"audio_{k}": v for k, v in egemaps(read_audio(clip)).items()}
