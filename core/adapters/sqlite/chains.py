"""SqliteChains: the SQL of the chains API area on SqliteBase (migrations 50-59 below)."""

from __future__ import annotations

from core.adapters.sqlite.base import SqliteBase

MIGRATIONS: list[tuple[int, str]] = []


class SqliteChains(SqliteBase):
    pass
