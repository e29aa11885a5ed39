"""How the SQLite store binds None and bool: through registered adapters (no adapter search per parameter), to the
same stored values as before."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from core.adapters.sqlite import SqliteStore
from core.records import Batch, Links, SpanRecord, Usage


def test_none_and_bool_have_adapters_registered() -> None:
    # Without one, Python 3.11's sqlite3 searches for an adapter on every None or bool it binds (about 0.24 us each,
    # a fifth of a 100-span insert); the int, float and str fast path stays, as no base type gets an adapter.
    registered = {kind for kind, _ in sqlite3.adapters}
    assert {type(None), bool} <= registered
    assert not registered & {int, float, str, bytearray}


def test_none_is_stored_as_null_and_a_bool_as_an_integer(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "observatory.db")
    try:
        span = SpanRecord("trace-1", "00000000000000a1", None, "work", "internal", "ok", None, 1_700_000_000 * 10**9,
                          1_700_000_001 * 10**9, None, "svc", "other", "", Usage(model="m-1", unpriced=True),
                          Links(), "{}", "{}", None)
        with store.unit_of_work() as uow:
            uow.write(Batch("acme", spans=[span]), "digest", [])
        row = store._reader().execute(
            "SELECT typeof(parent_span_id), typeof(status_message), typeof(provided_cost_usd), typeof(events), "
            "unpriced, typeof(unpriced) FROM spans").fetchone()
        assert tuple(row) == ("null", "null", "null", "null", 1, "integer")
    finally:
        store.close()
