"""Video decoding (one module per backend) and the demo video generator."""
from vidaffect.video.pyav_backend import PyAVReader, open_video
from vidaffect.video.types import VideoFrame, VideoInfo

__all__ = ["PyAVReader", "VideoFrame", "VideoInfo", "open_video"]
