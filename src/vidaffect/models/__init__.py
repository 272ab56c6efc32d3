"""Emotion models: the interface, the registry and the built-in model families."""
from vidaffect.models.base import CropSpec, EmotionModel, FaceBatch, FrameEmotionModel, ModelOutput
from vidaffect.models.registry import DEFAULT_MODEL, create_model, list_models, register_arch_loader, register_model

__all__ = [
    "CropSpec", "EmotionModel", "FaceBatch", "FrameEmotionModel", "ModelOutput",
    "DEFAULT_MODEL", "create_model", "list_models", "register_arch_loader", "register_model",
]
