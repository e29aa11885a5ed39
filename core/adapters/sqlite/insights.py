"""SqliteInsights: the SQL of the insights API area on SqliteBase (tables in MIGRATIONS below)."""

from __future__ import annotations

from core.adapters.sqlite.base import SqliteBase

MIGRATIONS: list[tuple[int, str]] = []


class SqliteInsights(SqliteBase):
    pass
