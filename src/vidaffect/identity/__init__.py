"""Person identity: dlib face descriptors per track, clustering into persons, a named gallery, discovery."""
from vidaffect.identity.cluster import DEFAULT_THRESHOLD, cluster_embeddings, co_occurring
from vidaffect.identity.embedder import FaceEmbedder, cosine_distance, identity_available
from vidaffect.identity.gallery import UNKNOWN, Gallery

__all__ = ["DEFAULT_THRESHOLD", "FaceEmbedder", "Gallery", "UNKNOWN", "cluster_embeddings", "co_occurring",
           "cosine_distance", "identity_available"]
