"""SqliteCatalog: the SQL of the catalog API area on SqliteBase (tables in MIGRATIONS below)."""

from __future__ import annotations

from core.adapters.sqlite.base import SqliteBase

MIGRATIONS: list[tuple[int, str]] = []


class SqliteCatalog(SqliteBase):
    pass
