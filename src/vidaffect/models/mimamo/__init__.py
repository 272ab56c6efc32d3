"""MIMAMO-Net (Deng et al., AAAI 2020): micro-motion (phase differences) + macro-motion (ResNet-50 FER+)
two-stream recurrent network for per-frame valence/arousal.  See docs/mimamo.md."""
from vidaffect.models.mimamo.network import MLP, PhaseNet, TwoStreamRNN
from vidaffect.models.mimamo.resnet50_ferplus_dag import Resnet50FerplusDag, preprocess_resnet
from vidaffect.models.mimamo.sampler import snippet_windows

__all__ = ["MLP", "PhaseNet", "TwoStreamRNN", "Resnet50FerplusDag", "preprocess_resnet", "snippet_windows"]
