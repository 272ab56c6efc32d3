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


def test_fused_network_matches_the_eval_network():
    """fuse_for_inference folds Conv+BN and Linear+BN pairs; the outputs must not change."""
    import torch
    from torch import nn

    from vidaffect.models.mimamo.network import TwoStreamRNN, fuse_for_inference

    torch.manual_seed(0)
    net = TwoStreamRNN().eval()
    g = torch.Generator().manual_seed(1)
    for m in net.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=g) * 0.3)
            m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
            m.weight.data.copy_(torch.randn(c, generator=g))
    fused = fuse_for_inference(net)
    n_bn = lambda model: sum(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) for m in model.modules())  # noqa: E731
    assert n_bn(fused) < n_bn(net) - 6  # 6 conv pairs, plus the Linear+BN pairs
    x1, x2, rgb = torch.randn(2, 3, 24, 48, 48), torch.randn(2, 3, 24, 24, 24), torch.randn(2, 3, 2048)
    with torch.inference_mode():
        torch.testing.assert_close(fused(x1, x2, rgb), net(x1, x2, rgb), atol=1e-4, rtol=1e-4)
