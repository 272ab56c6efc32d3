"""ResNet-18-TSM network: shapes, temporal shift semantics, frame mode."""
from __future__ import annotations

import pytest
import torch

from vidaffect.models.tsm import ResNet18TSM, clip_prediction_logits, temporal_shift

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def net() -> ResNet18TSM:
    torch.manual_seed(0)
    n = ResNet18TSM(7, buffer_length=4).eval()
    # random BN statistics so that every layer transforms its input (fresh BN is close to identity)
    for m in n.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return n


def test_shapes(net: ResNet18TSM) -> None:
    with torch.no_grad():
        assert net(torch.rand(2, 4, 3, 32, 32)).shape == (2, 4, 7)
        assert net(torch.rand(1, 6, 3, 48, 48)).shape == (1, 6, 7)
        assert net(torch.rand(3, 3, 40, 40)).shape == (3, 7)
    with pytest.raises(ValueError):
        net(torch.rand(3, 40, 40))


def test_temporal_shift_moves_a_quarter_of_channels_forward_in_time() -> None:
    x = torch.arange(2 * 3 * 8, dtype=torch.float32).view(2 * 3, 8, 1, 1)  # 2 clips x 3 frames x 8 channels
    y = temporal_shift(x, 3, fold_div=4).view(2, 3, 8)
    v = x.view(2, 3, 8)
    assert torch.equal(y[:, 0], v[:, 0])  # frame 0 keeps its own channels
    assert torch.equal(y[:, 1:, :2], v[:, :-1, :2])  # 8 // 4 = 2 channels come from frame t-1
    assert torch.equal(y[:, 1:, 2:], v[:, 1:, 2:])  # the rest stay
    assert torch.equal(x, torch.arange(48, dtype=torch.float32).view(6, 8, 1, 1))  # input untouched
    with pytest.raises(ValueError):
        temporal_shift(x, 4)


def test_output_of_frame_t_depends_on_t_minus_1_and_not_on_t_plus_1(net: ResNet18TSM) -> None:
    torch.manual_seed(1)
    clip = torch.rand(1, 5, 3, 32, 32)
    with torch.no_grad():
        base = net(clip)
        for t in range(1, 4):
            changed_prev = clip.clone()
            changed_prev[:, t - 1] = torch.rand(3, 32, 32)
            changed_next = clip.clone()
            changed_next[:, t + 1] = torch.rand(3, 32, 32)
            assert not torch.allclose(net(changed_prev)[0, t], base[0, t], atol=1e-5), t
            assert torch.allclose(net(changed_next)[0, t], base[0, t], atol=1e-6), t
        # three shifts: frame 4 sees frames 1..4 but not frame 0
        changed_first = clip.clone()
        changed_first[:, 0] = torch.rand(3, 32, 32)
        out = net(changed_first)
        assert torch.allclose(out[0, 4], base[0, 4], atol=1e-6)
        assert not torch.allclose(out[0, 3], base[0, 3], atol=1e-5)


def test_repeated_frame_clip_equals_frame_mode(net: ResNet18TSM) -> None:
    img = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        frame = net(img)
        clip = net(img.unsqueeze(1).expand(2, 4, 3, 32, 32).contiguous())
    for t in range(4):
        assert torch.allclose(clip[:, t], frame, atol=1e-5)


def test_clip_prediction_is_mean_of_last_two_steps() -> None:
    logits = torch.tensor([[[0.0, 9.0], [1.0, 1.0], [2.0, 0.0], [4.0, 2.0]]])
    assert torch.equal(clip_prediction_logits(logits), torch.tensor([[3.0, 1.0]]))


def test_trimmed_prediction_equals_the_full_clip_prediction(net: ResNet18TSM) -> None:
    clips = torch.rand(3, 4, 3, 32, 32)
    with torch.no_grad():
        full = clip_prediction_logits(net(clips), 2)
        assert torch.allclose(net.predict_last(clips, 2), full, atol=1e-5)
        assert torch.allclose(net.predict_last(clips[:, :1], 2), net(clips[:, 0]), atol=1e-5)  # T=1
        assert torch.allclose(net.predict_last(clips, 1), net(clips)[:, -1], atol=1e-5)
