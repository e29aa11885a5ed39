"""The export worker decodes and writes a delivery with the cyclic garbage collector held off, and restores it."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from core.adapters.clickhouse.analytics import ClickHouseAnalytics
from core.adapters.sqlite import SqliteStore
from core.analytics_export import export_payloads
from core.gc_pause import paused_gc
from core.ingest import IngestService
from core.pricing import PriceTable
from core.span_filter import SpanFilter
from tests.payloads import trace_request


def test_nested_pauses_leave_the_collector_as_the_outermost_found_it() -> None:
    assert gc.isenabled()
    with paused_gc():
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        gc.enable()


def test_an_export_delivery_runs_no_collection(tmp_path: Path, analytics_dsn: str) -> None:
    store = SqliteStore(tmp_path / "store.db")
    svc = IngestService(store, PriceTable.load(), SpanFilter.from_env({}), export_records=True)
    for i in range(4):
        svc.ingest("acme", "traces", trace_request(300, attrs={"session.id": f"s{i}"}), f"d{i}")
    payloads = [m.payload for m in store.claim_outbox(100)]
    analytics = ClickHouseAnalytics(analytics_dsn)
    collections: list[int] = []

    def seen(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    gc.collect()
    gc.callbacks.append(seen)
    try:
        exported = export_payloads(analytics, store, payloads)
    finally:
        gc.callbacks.remove(seen)
    # At most the one collection deferred to when the collector resumes (objects the delivery keeps, such as a
    # worker thread's new engine handle, can fill the youngest generation); without the pause, dozens.
    assert exported >= 1200 and len(collections) <= 1 and gc.isenabled()
    store.close()
