"""HTTP service: ``vidaffect serve`` (FastAPI + uvicorn) on top of the batch job ledger."""
