"""SQLite adapter of the Store port (the local operational store)."""

from core.adapters.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
