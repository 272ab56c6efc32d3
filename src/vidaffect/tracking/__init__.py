"""Tracking: stable face ids inside a shot (motion, then appearance), on top of the face stage's detections."""
from vidaffect.tracking.kalman import BoxKalman
from vidaffect.tracking.tracker import EmbedFn, FaceTracker, Track

__all__ = ["BoxKalman", "EmbedFn", "FaceTracker", "Track"]
