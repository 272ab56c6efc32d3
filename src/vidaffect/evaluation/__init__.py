"""Evaluation of expression classifiers: metrics, confusion matrices, model evaluation on data sets."""
from vidaffect.evaluation.metrics import ClassificationReport, classification_report, confusion_matrix

__all__ = ["ClassificationReport", "classification_report", "confusion_matrix"]
