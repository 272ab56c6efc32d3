"""Strict loading of checkpoints in the original formats, with the original key names."""
import pytest
import torch

from vidaffect.errors import ModelError
from vidaffect.models.mimamo.checkpoints import (
    load_strict, read_mimamo_checkpoint, read_resnet_checkpoint, save_mimamo_checkpoint,
)
from vidaffect.models.mimamo.network import TwoStreamRNN
from vidaffect.models.mimamo.resnet50_ferplus_dag import Resnet50FerplusDag, preprocess_resnet


def _bn(prefix, n, tracked=True):
    d = {f"{prefix}.weight": torch.rand(n), f"{prefix}.bias": torch.rand(n),
         f"{prefix}.running_mean": torch.rand(n), f"{prefix}.running_var": torch.rand(n) + 0.5}
    if tracked:
        d[f"{prefix}.num_batches_tracked"] = torch.tensor(7)
    return d


def _lin(prefix, i, o):
    return {f"{prefix}.weight": torch.randn(o, i) * 0.05, f"{prefix}.bias": torch.randn(o) * 0.05}


def _conv(prefix, i, o):
    return {f"{prefix}.weight": torch.randn(o, i, 3, 3) * 0.05, f"{prefix}.bias": torch.randn(o) * 0.05}


def original_two_stream_state(tracked=True):
    """A state dict written out from the original layout (as in a released model_weights.pth.tar)."""
    s = {}
    s.update(_lin("mlp.mlp.1", 2048, 256)); s.update(_bn("mlp.mlp.2", 256, tracked))
    s.update(_lin("mlp.mlp.5", 256, 256)); s.update(_bn("mlp.mlp.6", 256, tracked))
    for k, (ci, co) in enumerate([(24, 64), (88, 128), (128, 256)]):
        s.update(_conv(f"phasenet.conv_net.{k}.0", ci, co)); s.update(_bn(f"phasenet.conv_net.{k}.1", co, tracked))
        s.update(_conv(f"phasenet.conv_net.{k}.3", co, co)); s.update(_bn(f"phasenet.conv_net.{k}.4", co, tracked))
    s.update(_lin("phasenet.fc.0", 256, 256)); s.update(_bn("phasenet.fc.2", 256, tracked))
    s.update(_lin("phasenet.fc.4", 256, 256)); s.update(_bn("phasenet.fc.6", 256, tracked))
    s.update(_lin("phasenet.classifier.0", 256, 1)); s.update(_bn("phasenet.classifier.1", 1, tracked))
    s.update(_lin("transform.0", 512, 256)); s.update(_bn("transform.2", 256, tracked))
    for layer in range(2):
        for sfx in ("", "_reverse"):
            i = 256
            s[f"rnns.weight_ih_l{layer}{sfx}"] = torch.randn(384, i) * 0.05
            s[f"rnns.weight_hh_l{layer}{sfx}"] = torch.randn(384, 128) * 0.05
            s[f"rnns.bias_ih_l{layer}{sfx}"] = torch.randn(384) * 0.05
            s[f"rnns.bias_hh_l{layer}{sfx}"] = torch.randn(384) * 0.05
    s.update(_lin("classifier.1", 256, 2)); s.update(_bn("classifier.2", 2, tracked))
    return s


def original_resnet_state():
    s = {"conv1_7x7_s2.weight": torch.randn(64, 3, 7, 7) * 0.01}
    s.update(_bn("conv1_7x7_s2_bn", 64, tracked=False))
    c_in = 64
    for stage, n, mid, out in ((2, 3, 64, 256), (3, 4, 128, 512), (4, 6, 256, 1024), (5, 3, 512, 2048)):
        for i in range(1, n + 1):
            p = f"conv{stage}_{i}"
            s[f"{p}_1x1_reduce.weight"] = torch.randn(mid, c_in, 1, 1) * 0.01
            s.update(_bn(f"{p}_1x1_reduce_bn", mid, tracked=False))
            s[f"{p}_3x3.weight"] = torch.randn(mid, mid, 3, 3) * 0.01
            s.update(_bn(f"{p}_3x3_bn", mid, tracked=False))
            s[f"{p}_1x1_increase.weight"] = torch.randn(out, mid, 1, 1) * 0.01
            s.update(_bn(f"{p}_1x1_increase_bn", out, tracked=False))
            if i == 1:
                s[f"{p}_1x1_proj.weight"] = torch.randn(out, c_in, 1, 1) * 0.01
                s.update(_bn(f"{p}_1x1_proj_bn", out, tracked=False))
            c_in = out
    s["classifier.weight"] = torch.randn(8, 2048, 1, 1) * 0.01
    s["classifier.bias"] = torch.zeros(8)
    return s


@pytest.mark.parametrize("prefix", ["", "module."])
def test_original_model_weights_load_strictly(tmp_path, prefix):
    state = original_two_stream_state()
    path = tmp_path / "model_weights.pth.tar"
    torch.save({"state_dict": {prefix + k: v for k, v in state.items()}, "epoch": 12}, path)
    loaded, meta = read_mimamo_checkpoint(path)
    net = TwoStreamRNN()
    load_strict(net, loaded, path)
    assert meta["epoch"] == 12
    assert torch.equal(net.state_dict()["phasenet.conv_net.1.0.weight"], state["phasenet.conv_net.1.0.weight"])
    assert torch.equal(net.rnns.weight_hh_l1_reverse, state["rnns.weight_hh_l1_reverse"])
    assert set(net.state_dict()) == set(state)


def test_old_state_without_num_batches_tracked_loads(tmp_path):
    path = tmp_path / "m.pth.tar"
    torch.save({"state_dict": original_two_stream_state(tracked=False), "epoch": 3}, path)
    load_strict(TwoStreamRNN(), read_mimamo_checkpoint(path)[0], path)


def test_mismatching_checkpoint_is_refused_with_the_file_name(tmp_path):
    state = original_two_stream_state()
    state["rnns.weight_ih_l0"] = torch.zeros(384, 100)
    del state["classifier.2.running_var"]
    path = tmp_path / "bad.pth.tar"
    torch.save({"state_dict": state, "epoch": 1}, path)
    with pytest.raises(ModelError, match=r"bad\.pth\.tar.*classifier\.2\.running_var"):
        load_strict(TwoStreamRNN(), read_mimamo_checkpoint(path)[0], path)
    (tmp_path / "junk.pth.tar").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="junk.pth.tar"):
        read_mimamo_checkpoint(tmp_path / "junk.pth.tar")


def test_pickled_objects_are_not_executed(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))
    path = tmp_path / "evil.pth.tar"
    torch.save({"state_dict": {}, "epoch": Evil()}, path)
    with pytest.raises(ModelError, match="evil.pth.tar"):
        read_mimamo_checkpoint(path)


def test_saved_checkpoint_round_trips_in_original_format(tmp_path):
    net = TwoStreamRNN()
    path = save_mimamo_checkpoint(tmp_path / "fold_0_best_ccc.pth.tar", net, epoch=4)
    raw = torch.load(path, weights_only=True)
    assert set(raw) >= {"state_dict", "epoch"} and raw["epoch"] == 4
    state, meta = read_mimamo_checkpoint(path)
    assert meta["gru_axis"] == "time"
    load_strict(TwoStreamRNN(), state, path)


def test_resnet_dag_loads_original_keys_and_gives_pool5_features(tmp_path):
    state = original_resnet_state()
    path = tmp_path / "resnet50_ferplus_dag.pth"
    torch.save(state, path)
    net = Resnet50FerplusDag()
    load_strict(net, read_resnet_checkpoint(path), path)
    assert {k for k in net.state_dict() if not k.endswith("num_batches_tracked")} == set(state)
    assert hasattr(net, "pool5_7x7_s1")
    net.eval()
    x = preprocess_resnet(torch.randint(0, 256, (1, 112, 112, 3), dtype=torch.uint8).numpy())
    assert x.shape == (1, 3, 224, 224)
    with torch.no_grad():
        f = net.features(x)
        logits = net(x)
    assert f.shape == (1, 2048) and (f >= 0).all()
    assert logits.shape == (1, 8)


def test_resnet_preprocessing_is_0_255_minus_mean():
    crops = torch.full((1, 112, 112, 3), 200, dtype=torch.uint8).numpy()
    x = preprocess_resnet(crops)
    assert torch.allclose(x[0, :, 100, 100], torch.tensor([200 - 131.0912, 200 - 103.8827, 200 - 91.4953]))
