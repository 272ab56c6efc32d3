"""Training losses of the temporal model.

``vtt_loss`` is the reference's: the mean of two binary cross-entropies with
logits, equally weighted,

* neutral vs rest: the pair (neutral logit, largest non-neutral logit) against
  the targets (p_neutral, 1 - p_neutral), averaged over the pair;
* per class: every class logit against its one-hot (or soft) target,
  averaged over classes.

``cross_entropy_loss`` is the plain softmax alternative.  Both accept integer
labels ``(...,)`` or soft labels ``(..., C)`` and logits ``(..., C)``
(any leading shape, e.g. ``(N, T, C)`` for clips).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def _as_targets(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    if labels.dtype.is_floating_point:
        return labels.float()
    return F.one_hot(labels.long(), num_classes).float()


def vtt_loss(logits: torch.Tensor, labels: torch.Tensor, neutral_index: int = 6) -> torch.Tensor:
    """0.5 * BCE(neutral vs max non-neutral) + 0.5 * BCE over all classes (mean over samples)."""
    c = logits.shape[-1]
    target = _as_targets(labels, c)
    logits = logits.reshape(-1, c).float()
    target = target.reshape(-1, c)
    others = [i for i in range(c) if i != neutral_index]
    pair = torch.stack([logits[:, neutral_index], logits[:, others].max(dim=1).values], dim=1)
    p_neutral = target[:, neutral_index]
    pair_target = torch.stack([p_neutral, 1.0 - p_neutral], dim=1)
    neutral_term = F.binary_cross_entropy_with_logits(pair, pair_target)
    class_term = F.binary_cross_entropy_with_logits(logits, target)
    return 0.5 * neutral_term + 0.5 * class_term


def cross_entropy_loss(logits: torch.Tensor, labels: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Softmax cross-entropy for integer or soft labels (mean over samples)."""
    c = logits.shape[-1]
    logits = logits.reshape(-1, c).float()
    if labels.dtype.is_floating_point:
        target = labels.reshape(-1, c).float()
        if label_smoothing:
            target = target * (1 - label_smoothing) + label_smoothing / c
        return -(target * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    return F.cross_entropy(logits, labels.reshape(-1).long(), label_smoothing=label_smoothing)


LOSSES = {"vtt": vtt_loss, "ce": cross_entropy_loss}
