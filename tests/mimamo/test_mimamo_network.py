"""Two-stream network shapes and the GRU recurrence axis."""
import torch

from vidaffect.models.mimamo.network import TwoStreamRNN


def _inputs(b, t):
    torch.manual_seed(0)
    return torch.randn(b, t, 24, 48, 48), torch.randn(b, t, 24, 24, 24), torch.rand(b, t, 2048)


def test_forward_shapes_in_reference_layout():
    net = TwoStreamRNN().eval()
    l1, l2, rgb = _inputs(2, 5)
    with torch.no_grad():
        out = net(l1, l2, rgb)
    assert out.shape == (2, 5, 2)
    assert torch.isfinite(out).all()


def test_default_recurs_over_time_legacy_over_batch():
    torch.manual_seed(1)
    net = TwoStreamRNN().eval()
    l1, l2, rgb = _inputs(2, 4)
    with torch.no_grad():
        base = net(l1, l2, rgb)
        rgb2 = rgb.clone()
        rgb2[0, 0] += 5.0  # change frame 0 of snippet 0
        moved = net(l1, l2, rgb2)
    # over time: later frames of the same snippet change, the other snippet does not
    assert (moved[0, 3:] - base[0, 3:]).abs().max() > 1e-4
    assert torch.allclose(moved[1], base[1], atol=1e-6)
    net.legacy_gru_axis = True
    with torch.no_grad():
        base = net(l1, l2, rgb)
        moved = net(l1, l2, rgb2)
    # original defect: frames of snippet 0 are independent of each other, but snippet 1 changes
    assert torch.allclose(moved[0, 1:], base[0, 1:], atol=1e-6)
    assert (moved[1, 0] - base[1, 0]).abs().max() > 1e-4
