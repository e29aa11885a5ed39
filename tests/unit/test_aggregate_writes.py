"""The aggregate worker's writes on SQLite: one write transaction per delivery, however many sessions it touched."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.adapters.sqlite import SqliteStore
from core.aggregate import handle_ingested
from core.ingest import IngestService
from core.pricing import PriceTable
from core.span_filter import SpanFilter
from tests.payloads import trace_request


def test_a_delivery_saves_every_session_rollup_in_one_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = SqliteStore(tmp_path / "store.db")
    svc = IngestService(store, PriceTable.load(), SpanFilter.from_env({}))
    sessions = [f"s{i}" for i in range(6)]
    for i, sid in enumerate(sessions):
        svc.ingest("acme", "traces", trace_request(2, attrs={"session.id": sid}), f"d{i}")
    payloads = [m.payload for m in store.claim_outbox(100)]
    writes = 0
    transaction = store.transaction

    @contextmanager
    def counted() -> Iterator[object]:
        nonlocal writes
        writes += 1
        with transaction() as conn:
            yield conn

    # Every write of the worker holds the lock ingest waits on: once per delivery keeps ingest's latency flat.
    monkeypatch.setattr(store, "transaction", counted)
    assert handle_ingested(store, PriceTable.load(), payloads) == len(sessions)
    assert writes == 1
    for sid in sessions:
        session = store.get_session("acme", sid)
        assert session is not None and session.summary is not None and session.summary["span_count"] == 2
    store.close()
