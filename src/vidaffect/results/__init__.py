"""Results of an analysis: the Results object, writers, events, smoothing and derived VA."""
from vidaffect.results.results import FORMATS, Results
from vidaffect.results.va import derived_va

__all__ = ["FORMATS", "Results", "derived_va"]
