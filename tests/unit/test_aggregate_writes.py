"""The local worker's writes on SQLite: the session rollups of a delivery in a few short writes (sixteen sessions
each), and one write for the outbox acknowledgement, however many messages it delivered."""

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


def _ingested(tmp_path: Path, sessions: list[str]) -> SqliteStore:
    store = SqliteStore(tmp_path / "store.db")
    svc = IngestService(store, PriceTable.load(), SpanFilter.from_env({}))
    for i, sid in enumerate(sessions):
        svc.ingest("acme", "traces", trace_request(2, attrs={"session.id": sid}), f"d{i}")
    return store


def _count_writes(store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every write of the worker holds the lock ingest waits on: few writes, each short, keep ingest's latency flat."""
    writes = [0]
    transaction = store.transaction

    @contextmanager
    def counted() -> Iterator[object]:
        writes[0] += 1
        with transaction() as conn:
            yield conn

    monkeypatch.setattr(store, "transaction", counted)
    return writes


@pytest.mark.parametrize(("count", "expected_writes"), [(6, 1), (16, 1), (40, 3)])
def test_a_delivery_saves_its_session_rollups_sixteen_per_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 count: int, expected_writes: int) -> None:
    sessions = [f"s{i}" for i in range(count)]
    store = _ingested(tmp_path, sessions)
    payloads = [m.payload for m in store.claim_outbox(100)]
    writes = _count_writes(store, monkeypatch)
    assert handle_ingested(store, PriceTable.load(), payloads) == len(sessions)
    assert writes == [expected_writes]
    for sid in sessions:
        session = store.get_session("acme", sid)
        assert session is not None and session.summary is not None and session.summary["span_count"] == 2
    store.close()


def test_a_deliverys_acknowledgement_is_one_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _ingested(tmp_path, [f"s{i}" for i in range(5)])
    ids = [m.id for m in store.claim_outbox(100)]
    writes = _count_writes(store, monkeypatch)
    store.ack_outbox(ids)
    assert len(ids) == 5 and writes == [1]
    assert store.claim_outbox(100) == [] and store.outbox_backlog() == 0
    store.close()
