"""vidaffect: frame-by-frame, face-by-face emotion analysis of videos."""
__version__ = "0.1.0"
