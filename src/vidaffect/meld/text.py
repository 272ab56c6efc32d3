"""Text features of an utterance: VADER lexicon sentiment (the lexicon ships with ``vaderSentiment``)."""
from __future__ import annotations

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
