"""Optical strain: how much a flow field deforms the image locally.

With ``u_x = du/dx`` etc. from central finite differences (``numpy.gradient``),
``e_xy = 0.5 * (u_y + v_x)`` and the strain magnitude is
``sqrt(u_x^2 + 2 * e_xy^2 + v_y^2)`` (Khor et al. 2019; Liong et al.).  A rigid
translation has zero strain; a shear ``u = a * y`` has magnitude ``|a| / sqrt(2)``.
"""
from __future__ import annotations

import numpy as np


def strain_components(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(e_xx, e_xy, e_yy)`` of a (H, W, 2) flow field, float32."""
    u = flow[..., 0].astype(np.float32)
    v = flow[..., 1].astype(np.float32)
    u_y, u_x = np.gradient(u)  # axis 0 is y (rows), axis 1 is x (columns)
    v_y, v_x = np.gradient(v)
    return u_x, 0.5 * (u_y + v_x), v_y


def optical_strain(flow: np.ndarray) -> np.ndarray:
    """Strain magnitude ``sqrt(u_x^2 + 2 e_xy^2 + v_y^2)`` per pixel, float32 (H, W)."""
    e_xx, e_xy, e_yy = strain_components(flow)
    return np.sqrt(e_xx**2 + 2.0 * e_xy**2 + e_yy**2).astype(np.float32)
