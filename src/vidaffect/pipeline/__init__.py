"""The streaming analysis pipeline."""
from vidaffect.pipeline.analyzer import AnalyzeOptions, Analyzer, FrameResult, analyze, iter_tracked_faces

__all__ = ["AnalyzeOptions", "Analyzer", "FrameResult", "analyze", "iter_tracked_faces"]
