"""The SQLite store's indexes: conditions cheap to test on every insert, and the exec-span query using its index,
also in a store made before the index's condition changed form."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from pathlib import Path

from core.adapters.sqlite import SqliteStore
from core.hierarchy.names import EXEC_SPAN_NAMES


def _exec_query_plan(store: SqliteStore) -> str:
    """The plan of the query `exec_spans` runs, captured from the connection it runs on."""
    conn = store._reader()
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    try:
        store.exec_spans("acme", list(EXEC_SPAN_NAMES), 10)
    finally:
        conn.set_trace_callback(None)
    (query,) = [q for q in seen if q.lstrip().upper().startswith("SELECT")]
    return " ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + query))


def test_no_index_condition_tests_an_in_list(tmp_path: Path) -> None:
    # SQLite builds a table of an IN list each time it tests an inserted row against the condition: 2 us per span
    # for the exec-span index, a sixth of a span insert's cost.
    store = SqliteStore(tmp_path / "observatory.db")
    try:
        conditions = {name: sql.split(" WHERE ", 1)[1] for name, sql in store._reader().execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql LIKE '% WHERE %'")}
        assert "spans_exec" in conditions
        assert not {name for name, cond in conditions.items() if re.search(r"\bIN\s*\(", cond, re.IGNORECASE)}
    finally:
        store.close()


def test_the_exec_span_query_uses_its_index_in_a_new_store_and_one_made_with_the_old_condition(
        tmp_path: Path) -> None:
    path = tmp_path / "observatory.db"
    store = SqliteStore(path)
    try:
        assert "USING INDEX spans_exec" in _exec_query_plan(store)
    finally:
        store.close()
    with closing(sqlite3.connect(path)) as conn, conn:  # the index as migration 30 made it, before 32
        names = ",".join(f"'{n}'" for n in EXEC_SPAN_NAMES)
        conn.execute("DROP INDEX spans_exec")
        conn.execute(f"CREATE INDEX spans_exec ON spans(org_id, start_ns) WHERE name IN ({names})")
        conn.execute("DELETE FROM schema_version WHERE version = 32")
    store = SqliteStore(path)
    try:
        assert " IN (" not in store._reader().execute(
            "SELECT sql FROM sqlite_master WHERE name = 'spans_exec'").fetchone()[0]
        assert "USING INDEX spans_exec" in _exec_query_plan(store)
    finally:
        store.close()
