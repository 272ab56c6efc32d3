"""Exceptions for user-facing failures.

Anything a user can cause (a missing file, a corrupt video, a bad option, a
mismatched checkpoint) raises a :class:`VidaffectError` subclass whose message
is one line naming the file and the cause.  The CLI prints that line and exits
non-zero instead of showing a traceback.
"""
from __future__ import annotations


class VidaffectError(Exception):
    """Base class of errors caused by input or configuration, not by a bug."""


class VideoError(VidaffectError):
    """A video is missing, not a video, has no video stream, or cannot be decoded."""


class ModelError(VidaffectError):
    """A model name is unknown or a checkpoint does not fit the model."""


class OutputError(VidaffectError):
    """Results cannot be written (unwritable directory, disk full...)."""
