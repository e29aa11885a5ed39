"""The SQLite store's write-ahead log stays bounded under writes that never pause."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from core.adapters.sqlite import SqliteStore, base
from core.ingest import IngestService
from core.models import TraceQuery
from core.pricing import PriceTable
from core.span_filter import SpanFilter
from tests.payloads import trace_request


def test_the_log_is_folded_back_once_past_its_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "WAL_TRUNCATE_BYTES", 256 * 1024)
    store = SqliteStore(tmp_path / "observatory.db")
    service = IngestService(store, PriceTable.load(), SpanFilter.from_env())
    wal = tmp_path / "observatory.db-wal"
    try:
        peak = 0
        deadline = time.monotonic() + 20
        truncated = False
        i = 0
        while time.monotonic() < deadline and not truncated:
            service.ingest("acme", "traces", trace_request(50), str(i))
            i += 1
            size = wal.stat().st_size if wal.exists() else 0
            truncated = peak > 256 * 1024 and size < peak
            peak = max(peak, size)
        assert truncated, f"log grew to {peak} bytes and was never folded back"
        assert len(store.list_traces("acme", TraceQuery(limit=1000))) == i  # nothing lost by the fold
    finally:
        store.close()
