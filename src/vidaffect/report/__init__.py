"""See it: a self-contained interactive HTML report per video, a batch index page, an annotated video."""
from vidaffect.report.annotate import annotate_video
from vidaffect.report.html import ReportOptions, build_report
from vidaffect.report.index import build_index

__all__ = ["ReportOptions", "annotate_video", "build_index", "build_report"]
