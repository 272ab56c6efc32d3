"""Per-frame inputs and windowed prediction of MIMAMO-Net for one clip (one face track)."""
from __future__ import annotations

import numpy as np
import torch

from vidaffect.models.mimamo.network import TwoStreamRNN, fuse_for_inference
from vidaffect.models.mimamo.resnet50_ferplus_dag import Resnet50FerplusDag, preprocess_resnet
from vidaffect.models.mimamo.sampler import merge_window_predictions, snippet_windows
from vidaffect.motion.phase import PhaseDiffConfig, PhaseDifferenceExtractor, to_gray


class MimamoRunner:
    """Holds the network, the ResNet and the phase extractor; turns crops into predictions."""

    def __init__(self, net: TwoStreamRNN, resnet: Resnet50FerplusDag | None, device: str = "cpu",
                 phase_config: PhaseDiffConfig | None = None, length: int = 64, stride: int = 64,
                 resnet_batch: int = 32) -> None:
        self.net = net.to(device).eval()
        self.fast_net = fuse_for_inference(self.net)  # Conv+BN folded: what inference runs
        self.resnet = resnet.to(device).eval() if resnet is not None else None
        self.device = device
        self.phase = PhaseDifferenceExtractor(phase_config)
        self.length, self.stride, self.resnet_batch = length, stride, resnet_batch

    @property
    def context(self) -> int:
        """Frames needed on each side of a window for its phase groups."""
        return self.phase.config.num_phase // 2

    @torch.inference_mode()
    def resnet_features(self, crops: np.ndarray) -> torch.Tensor:
        """``(N, 2048)`` macro features of uint8 RGB crops (on the CPU)."""
        if self.resnet is None:
            raise RuntimeError("no ResNet-50 loaded")
        out = [self.resnet.features(preprocess_resnet(crops[i:i + self.resnet_batch], self.device)).cpu()
               for i in range(0, len(crops), self.resnet_batch)]
        return torch.cat(out) if out else torch.zeros(0, 2048)

    def gray(self, crops: np.ndarray) -> torch.Tensor:
        return to_gray(crops, self.phase.config.phase_size)

    @torch.inference_mode()
    def phase_inputs(self, gray: torch.Tensor, start: int, end: int) -> list[torch.Tensor]:
        """Phase tensors of frames ``[start, end)`` of a clip whose frames are ``gray`` (groups clamp to it)."""
        lo, hi = max(0, start - self.context), min(len(gray), end + self.context)
        centers = np.arange(start - lo, end - lo)
        return self.phase(gray[lo:hi].to(self.device), centers)

    @torch.inference_mode()
    def predict_window(self, gray: torch.Tensor, feats: torch.Tensor, start: int, end: int) -> np.ndarray:
        """``(end - start, 2)`` [valence, arousal] for one window of a clip."""
        l1, l2 = self.phase_inputs(gray, start, end)
        rgb = feats[start:end].to(self.device).float()
        out = self.fast_net(l1.unsqueeze(0), l2.unsqueeze(0), rgb.unsqueeze(0))[0]
        return out.float().cpu().numpy()

    def predict_clip(self, gray: torch.Tensor, feats: torch.Tensor) -> np.ndarray:
        """Per-frame predictions ``(N, 2)`` of a whole clip with the reference's windowing."""
        wins = snippet_windows(len(gray), self.length, self.stride)
        preds = [self.predict_window(gray, feats, s, e) for s, e in wins]
        return merge_window_predictions(len(gray), wins, preds)
