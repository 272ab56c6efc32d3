"""Loss values of the temporal model against hand computation."""
from __future__ import annotations

import math

import torch

from vidaffect.models.tsm.losses import cross_entropy_loss, vtt_loss


def _bce(z: float, y: float) -> float:
    s = 1 / (1 + math.exp(-z))
    return -(y * math.log(s) + (1 - y) * math.log(1 - s))


LOGITS = [[0.5, -1.0, 0.0, 2.0, -0.5, 1.0, 1.5],   # label happy (3)
          [-0.2, 0.3, 0.1, 0.0, -1.0, 0.4, 0.8]]   # label neutral (6)
LABELS = [3, 6]


def _hand_vtt(logits: list[list[float]], targets: list[list[float]]) -> float:
    neutral_terms, class_terms = [], []
    for z, y in zip(logits, targets):
        others = max(z[:6])
        neutral_terms += [_bce(z[6], y[6]), _bce(others, 1 - y[6])]
        class_terms += [_bce(zc, yc) for zc, yc in zip(z, y)]
    return 0.5 * sum(neutral_terms) / len(neutral_terms) + 0.5 * sum(class_terms) / len(class_terms)


def test_vtt_loss_matches_hand_computation() -> None:
    onehot = [[1.0 if c == lab else 0.0 for c in range(7)] for lab in LABELS]
    got = float(vtt_loss(torch.tensor(LOGITS), torch.tensor(LABELS)))
    assert math.isclose(got, _hand_vtt(LOGITS, onehot), rel_tol=1e-6)
    # soft labels (RAF compound: 0.5 / 0.5) go through the same formula
    soft = [[0.5, 0, 0, 0.5, 0, 0, 0], [0, 0, 0, 0, 0, 0.5, 0.5]]
    got_soft = float(vtt_loss(torch.tensor(LOGITS), torch.tensor(soft)))
    assert math.isclose(got_soft, _hand_vtt(LOGITS, soft), rel_tol=1e-6)


def test_vtt_loss_accepts_clips() -> None:
    logits = torch.tensor(LOGITS).view(1, 2, 7)
    labels = torch.tensor(LABELS).view(1, 2)
    assert torch.allclose(vtt_loss(logits, labels), vtt_loss(torch.tensor(LOGITS), torch.tensor(LABELS)))


def test_vtt_loss_falls_when_the_right_class_wins() -> None:
    wrong = torch.tensor([[0.0] * 6 + [5.0]])
    right = torch.tensor([[0.0, 0, 0, 5.0, 0, 0, 0]])
    assert vtt_loss(right, torch.tensor([3])) < vtt_loss(wrong, torch.tensor([3]))


def test_cross_entropy_matches_hand_computation() -> None:
    total = 0.0
    for z, lab in zip(LOGITS, LABELS):
        total += -(z[lab] - math.log(sum(math.exp(v) for v in z)))
    got = float(cross_entropy_loss(torch.tensor(LOGITS), torch.tensor(LABELS)))
    assert math.isclose(got, total / 2, rel_tol=1e-6)
    onehot = torch.nn.functional.one_hot(torch.tensor(LABELS), 7).float()
    assert math.isclose(float(cross_entropy_loss(torch.tensor(LOGITS), onehot)), total / 2, rel_tol=1e-6)
