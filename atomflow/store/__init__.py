"""The store room: SQLite index (WAL) plus per-task artifact directories."""

from atomflow.store.sqlite_store import STATES, Store, TaskRecord

__all__ = ["STATES", "Store", "TaskRecord"]
