"""People: face embeddings (dlib's ResNet descriptor run by vidaffect), persons linked from face tracks, a named
gallery, discovery across videos."""
from vidaffect.identity.cluster import DEFAULT_THRESHOLD, cluster_embeddings, co_occurring, cosine_distance
from vidaffect.identity.gallery import UNKNOWN, Gallery

__all__ = ["DEFAULT_THRESHOLD", "Gallery", "UNKNOWN", "cluster_embeddings", "co_occurring", "cosine_distance"]
