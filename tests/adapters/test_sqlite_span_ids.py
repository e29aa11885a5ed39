"""The SQLite store's span-id lookup: traces are queued by the aggregate worker and indexed in bulk, and a lookup
never misses a queued span."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.adapters.sqlite import SqliteStore, span_views
from core.records import Batch, Links, SpanRecord, Usage


def _span(span_id: str, trace_id: str) -> SpanRecord:
    return SpanRecord(trace_id, span_id, None, "work", "internal", "ok", None, 1_700_000_000 * 10**9,
                      1_700_000_001 * 10**9, None, "svc", "other", "", Usage(), Links(), "{}", "{}", None)


def _indexed(store: SqliteStore) -> int:
    return int(store._reader().execute("SELECT count(*) FROM ids.span_ids").fetchone()[0])


def _write(store: SqliteStore, traces: int) -> None:
    with store.unit_of_work() as uow:
        uow.write(Batch("acme", spans=[_span(f"{t:04x}{i:012x}", f"trace-{t}") for t in range(traces)
                                       for i in range(3)]), "digest", [])


def test_queued_traces_are_indexed_together_once_enough_are_queued(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(span_views, "INDEX_PENDING_TRACES", 4)
    store = SqliteStore(tmp_path / "observatory.db")
    try:
        _write(store, 5)
        store.index_span_ids("acme", ["trace-0", "trace-1"])
        store.index_span_ids("acme", ["trace-2"])
        assert _indexed(store) == 0  # queued: one append per delivery, no page of the lookup tree dirtied yet
        store.index_span_ids("acme", ["trace-3", "trace-4"])
        assert _indexed(store) == 15  # the fourth queued trace indexes all five traces' spans in one commit
        assert store._reader().execute("SELECT count(*) FROM ids.span_traces_pending").fetchone()[0] == 0
    finally:
        store.close()


def test_a_lookup_finds_a_span_whose_trace_is_still_queued_even_after_a_restart(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "observatory.db")
    _write(store, 2)
    store.index_span_ids("acme", ["trace-1"])
    assert _indexed(store) == 0
    store.close()

    reopened = SqliteStore(tmp_path / "observatory.db")  # the queue is durable: a restarted worker loses nothing
    try:
        found = reopened.find_span("acme", f"{1:04x}{2:012x}")
        assert found is not None and found.trace_id == "trace-1"
        assert _indexed(reopened) == 3  # the miss indexed the queued trace's spans
        assert reopened.find_span("acme", f"{0:04x}{0:012x}") is None  # trace-0 was never queued
        assert reopened.find_span("globex", f"{1:04x}{2:012x}") is None
    finally:
        reopened.close()
