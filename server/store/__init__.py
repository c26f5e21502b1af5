"""SQLite persistence: designs, runs and their metric history; weights live beside it as files."""

from server.store.db import Store, StoreError

__all__ = ["Store", "StoreError"]
