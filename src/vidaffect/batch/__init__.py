"""Many videos: the job ledger, the batch runner, the corpus Parquet data set, watch mode and the Ray engine."""
from vidaffect.batch.ledger import Job, Ledger, content_hash, settings_hash

__all__ = ["Job", "Ledger", "content_hash", "settings_hash"]
