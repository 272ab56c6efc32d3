"""Constant-velocity Kalman filter on face boxes (centre x, centre y, width, height), one per track.

The same model as SORT/ByteTrack's box filter, with time in "reference frames"
(seconds x :data:`REF_FPS`) so that videos sampled at any rate (``--fps``,
variable frame rate) get the same motion model.  Noise scales with the box
height, as in ByteTrack: a 200-px face may move further per frame than a 30-px one.
"""
from __future__ import annotations

import numpy as np

REF_FPS = 30.0  # noise levels below are per 1/30 s
STD_POSITION = 1.0 / 20  # x box height
STD_VELOCITY = 1.0 / 160  # x box height, per reference frame
MAX_PREDICT_S = 0.5  # a lost face's predicted box stops moving after this long without a measurement


def xyxy_to_cxcywh(box: np.ndarray) -> np.ndarray:
    x1, y1, x2, y2 = (float(v) for v in box)
    return np.array([(x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, 1e-3), max(y2 - y1, 1e-3)])


def cxcywh_to_xyxy(s: np.ndarray) -> np.ndarray:
    cx, cy, w, h = s[:4]
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dtype=np.float32)


class BoxKalman:
    """State ``[cx, cy, w, h, vcx, vcy, vw, vh]``; :meth:`predict` to a time, :meth:`update` with a measured box."""

    def __init__(self, box: np.ndarray, time_s: float) -> None:
        z = xyxy_to_cxcywh(box)
        self.x = np.concatenate([z, np.zeros(4)])
        h = z[3]
        std = np.array([2 * STD_POSITION * h] * 4 + [10 * STD_VELOCITY * h] * 4)
        self.P = np.diag(std ** 2)
        self.time_s = float(time_s)  # time of the state
        self.measured_s = float(time_s)  # time of the last measurement

    def predict(self, time_s: float) -> None:
        """Move the state forward to ``time_s`` (no-op for times not after the state's)."""
        dt = (float(time_s) - self.time_s) * REF_FPS
        if dt <= 0:
            return
        # past MAX_PREDICT_S since the last measurement the velocity is no longer trusted to extrapolate
        moving = max(0.0, min(float(time_s), self.measured_s + MAX_PREDICT_S) - self.time_s) * REF_FPS
        F = np.eye(8)
        F[:4, 4:] = np.eye(4) * moving
        h = max(self.x[3], 1.0)
        q = np.array([STD_POSITION * h] * 4 + [STD_VELOCITY * h] * 4) ** 2 * dt
        self.x = F @ self.x
        self.x[2:4] = np.maximum(self.x[2:4], 1.0)
        self.P = F @ self.P @ F.T + np.diag(q)
        self.time_s = float(time_s)

    def update(self, box: np.ndarray, time_s: float, trust: float = 1.0) -> None:
        """Fuse a measured box at ``time_s``; ``trust`` < 1 inflates its noise (e.g. a flow-carried box)."""
        self.predict(time_s)
        z = xyxy_to_cxcywh(box)
        h = max(z[3], 1.0)
        R = np.diag(np.array([STD_POSITION * h] * 4) ** 2 / max(trust, 1e-3))
        H = np.eye(4, 8)
        S = H @ self.P @ H.T + R
        K = self.P @ H.T @ np.linalg.inv(S)
        self.x = self.x + K @ (z - H @ self.x)
        self.P = (np.eye(8) - K @ H) @ self.P
        self.measured_s = float(time_s)

    def box_at(self, time_s: float) -> np.ndarray:
        """The predicted xyxy box at ``time_s`` (the state itself is not changed)."""
        dt = max(0.0, min(float(time_s), self.measured_s + MAX_PREDICT_S) - self.time_s) * REF_FPS
        s = self.x[:4] + self.x[4:] * dt
        s[2:4] = np.maximum(s[2:4], 1.0)
        return cxcywh_to_xyxy(s)

    @property
    def velocity(self) -> np.ndarray:
        """Centre velocity in pixels per second."""
        return self.x[4:6] * REF_FPS
