"""SSSN/DSSN: published parameter counts, shapes, AlexNet initialisation."""
from __future__ import annotations

import math

import pytest
import torch

from vidaffect.errors import ModelError
from vidaffect.micro.networks import DSSN, SSSN, ShallowAlexStream, build_network, count_parameters, load_alexnet_init


def _published(n: int, decimals: int) -> float:
    """The paper's figures are cut (not rounded) to 2 / 3 decimals of a million: 972,805 -> 0.972M."""
    return math.floor(n / 1e6 * 10**decimals) / 10**decimals


def test_parameter_counts_match_the_paper_for_five_classes():
    # streams: conv1 96*3*11*11+96 = 34,944; conv2 256*48*5*5+256 = 307,456; classifier 57,600*5+5
    assert count_parameters(SSSN(5)) == 630_405 and _published(630_405, 2) == 0.63
    assert count_parameters(DSSN(5, "add")) == 972_805 and _published(972_805, 3) == 0.972
    assert count_parameters(DSSN(5, "multiply")) == 972_805
    # concatenation doubles the classifier's input: 2 streams + Linear(115,200 -> 5)
    assert count_parameters(DSSN(5, "concatenate")) == 2 * count_parameters(ShallowAlexStream()) + 115_200 * 5 + 5


def test_stream_gives_57600_features_at_227():
    assert ShallowAlexStream().eval()(torch.zeros(1, 3, 227, 227)).shape == (1, 256, 15, 15)
    assert ShallowAlexStream.feature_count(227) == 57_600


@pytest.mark.parametrize("mode", ["add", "multiply", "concatenate", "cat", "mul"])
def test_dssn_combinations_forward(mode):
    net = build_network("DSSN", 3, mode, input_size=64).eval()
    a, b = torch.randn(2, 3, 64, 64), torch.randn(2, 3, 64, 64)
    out = net(a, b)
    assert out.shape == (2, 3)
    assert not torch.allclose(out, net(a, torch.zeros_like(b)))  # both streams matter


def test_unknown_names_raise():
    with pytest.raises(ModelError, match="combination"):
        build_network("DSSN", 5, "max")
    with pytest.raises(ModelError, match="SSSN, DSSN"):
        build_network("TSSN", 5)


def _fake_alexnet(c1=64, c2=192, c2_in=64):
    g = torch.Generator().manual_seed(0)
    return {
        "features.0.weight": torch.randn(c1, 3, 11, 11, generator=g), "features.0.bias": torch.randn(c1, generator=g),
        "features.3.weight": torch.randn(c2, c2_in, 5, 5, generator=g), "features.3.bias": torch.randn(c2, generator=g),
        "features.6.weight": torch.randn(384, c2, 3, 3, generator=g), "classifier.6.weight": torch.randn(1000, 4096),
    }  # fmt: skip


def test_alexnet_init_from_torchvision_state_dict_file(tmp_path):
    sd = _fake_alexnet()
    path = tmp_path / "alexnet.pth"
    torch.save(sd, path)
    net = DSSN(5)
    before = net.stream2.conv1.weight.detach().clone()
    before2 = net.stream1.conv2.weight.detach().clone()
    report = load_alexnet_init(net, path)
    assert report == {"conv1_filters": 64, "conv2_filters": 192, "streams": 2}
    for s in (net.stream1, net.stream2):
        torch.testing.assert_close(s.conv1.weight[:64], sd["features.0.weight"])
        torch.testing.assert_close(s.conv1.bias[:64], sd["features.0.bias"])
        # group 0 filters see our conv1 channels 0..47 = torchvision's 0..47
        torch.testing.assert_close(s.conv2.weight[:128], sd["features.3.weight"][:128, :48])
        # group 1 filters see channels 48..95; torchvision has 48..63 only
        torch.testing.assert_close(s.conv2.weight[128:192, :16], sd["features.3.weight"][128:192, 48:64])
    torch.testing.assert_close(net.stream2.conv1.weight[64:], before[64:])  # filters it lacks keep their init
    torch.testing.assert_close(net.stream1.conv2.weight[192:], before2[192:])
    torch.testing.assert_close(net.stream1.conv2.weight[128:192, 16:], before2[128:192, 16:])


def test_alexnet_init_exact_for_original_grouped_shapes():
    sd = _fake_alexnet(96, 256, 48)
    net = SSSN(5)
    assert load_alexnet_init(net, sd)["conv2_filters"] == 256
    torch.testing.assert_close(net.stream.conv1.weight, sd["features.0.weight"])
    torch.testing.assert_close(net.stream.conv2.weight, sd["features.3.weight"])
    torch.testing.assert_close(net.stream.conv2.bias, sd["features.3.bias"])


class Evil:
    def __reduce__(self):
        return (print, ("unpickled!",))


def test_alexnet_loader_refuses_pickled_objects_and_wrong_files(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"features.0.weight": Evil()}, path)  # would print when unpickled without weights_only
    with pytest.raises(ModelError, match="not a readable state dict"):
        load_alexnet_init(SSSN(5), path)
    other = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, other)
    with pytest.raises(ModelError, match="not an AlexNet state dict"):
        load_alexnet_init(SSSN(5), other)
    with pytest.raises(ModelError, match="not found"):
        load_alexnet_init(SSSN(5), tmp_path / "none.pth")


def test_channel_lrn_equals_torch_local_response_norm():
    from vidaffect.micro.networks import ChannelLRN

    x = torch.randn(2, 96, 7, 7) * 40
    torch.testing.assert_close(ChannelLRN(5, 1e-4, 0.75, 2.0)(x), torch.nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0)(x))
