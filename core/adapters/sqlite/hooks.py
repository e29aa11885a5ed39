"""SqliteHooks: the SQL of the hooks API area on SqliteBase (migrations 60-69 below)."""

from __future__ import annotations

from core.adapters.sqlite.base import SqliteBase

MIGRATIONS: list[tuple[int, str]] = []


class SqliteHooks(SqliteBase):
    pass
