"""Faces: detection and face mesh (MediaPipe's models, run by vidaffect), alignment (tracking: vidaffect.tracking)."""
from vidaffect.faces.align import align_faces, face_points
from vidaffect.faces.detections import KEYPOINT_NAMES, Detections, box_iou
from vidaffect.faces.detector import FaceDetector

__all__ = ["Detections", "FaceDetector", "KEYPOINT_NAMES", "align_faces", "box_iou", "face_points"]
