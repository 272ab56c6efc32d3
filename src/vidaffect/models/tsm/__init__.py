"""ResNet-18 with a Temporal Shift Module (the VTT Friends video emotion model).

* :mod:`.resnet` ResNet-18 written out; :mod:`.shift` the one-directional shift;
  :mod:`.net` the clip model; :mod:`.losses` the reference loss and cross-entropy;
  :mod:`.augment` the reference augmentation; :mod:`.crop` the reference square crop.
* The registered analyze model (``resnet18-tsm``) is in :mod:`vidaffect.models.zoo.tsm`,
  training in :mod:`vidaffect.training.tsm`.
"""
from vidaffect.models.tsm.losses import cross_entropy_loss, vtt_loss
from vidaffect.models.tsm.net import ResNet18TSM, clip_prediction_logits
from vidaffect.models.tsm.resnet import ResNet18
from vidaffect.models.tsm.shift import temporal_shift

__all__ = ["ResNet18", "ResNet18TSM", "clip_prediction_logits", "cross_entropy_loss", "temporal_shift", "vtt_loss"]
