"""Re-crop data set images with the analysis pipeline's detector + alignment.

Measures whether crops cut by ``vidaffect analyze`` match a model's training
distribution: every image is upscaled 4x and padded (FER-style tight crops
are too small and too tight for the detector), the highest-scoring face is
detected (BlazeFace, with mesh landmarks) and aligned to the model's
:class:`~vidaffect.models.base.CropSpec`.
"""
from __future__ import annotations

import cv2
import numpy as np
from tqdm import tqdm

from vidaffect.models.base import CropSpec

UPSCALE, PAD_FRACTION = 4, 0.25


def detect_and_align(images: np.ndarray, crop: CropSpec, show_progress: bool = False,
                     detector: str = "short") -> tuple[np.ndarray, np.ndarray]:
    """Return ``(crops of the found faces, boolean mask of images where a face was found)``."""
    from vidaffect.faces import FaceDetector, align_faces

    det = FaceDetector(model=detector, max_faces=1, landmarks=True, video_mode=False)
    crops, found = [], np.zeros(len(images), bool)
    try:
        for i, img in enumerate(tqdm(images, desc="detecting faces", unit="img", disable=not show_progress)):
            rgb = img if img.ndim == 3 else cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
            h, w = rgb.shape[:2]
            big = cv2.resize(rgb, (w * UPSCALE, h * UPSCALE), interpolation=cv2.INTER_CUBIC)
            pad = int(PAD_FRACTION * w * UPSCALE)
            big = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
            dets = det.detect(big)
            if len(dets) == 0:
                continue
            dets = dets[np.argsort(-dets.scores)[:1]]
            crops.append(align_faces(big, dets, crop)[0])
            found[i] = True
    finally:
        det.close()
    shape = (0, crop.size, crop.size) + (() if crop.color == "gray" else (3,))
    return (np.stack(crops) if crops else np.zeros(shape, np.uint8)), found
