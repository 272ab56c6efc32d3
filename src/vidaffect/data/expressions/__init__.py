"""Still-image expression data sets: one loader per format, one dispatch function.

>>> from vidaffect.data.expressions import load_expression_dataset
>>> data = load_expression_dataset("fer2013.csv", split="val")   # doctest: +SKIP
"""
from vidaffect.data.expressions.base import DatasetError, ExpressionData
from vidaffect.data.expressions.dispatch import FORMATS, detect_format, load_expression_dataset

__all__ = ["DatasetError", "ExpressionData", "FORMATS", "detect_format", "load_expression_dataset"]
