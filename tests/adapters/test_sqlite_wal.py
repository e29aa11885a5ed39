"""The SQLite store's write-ahead logs: bounded under writes that never pause, committed without an fsync each."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from core.adapters.sqlite import SqliteStore, base
from core.ingest import IngestService
from core.models import TraceQuery
from core.pricing import PriceTable
from core.span_filter import SpanFilter
from tests.payloads import trace_request

LIMIT = 512 * 1024


def test_the_log_is_restarted_under_writes_that_never_pause(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    monkeypatch.setattr(base, "WAL_RESTART_BYTES", LIMIT)
    monkeypatch.setattr(base, "WAL_SIZE_LIMIT", 0)  # a rewound log is cut to nothing: the drop is visible
    store = SqliteStore(tmp_path / "observatory.db")
    service = IngestService(store, PriceTable.load(), SpanFilter.from_env())
    wal = tmp_path / "observatory.db-wal"
    stop = threading.Event()
    written = [0]

    def write_without_pause() -> None:
        while not stop.is_set():
            service.ingest("acme", "traces", trace_request(50), str(written[0]))
            written[0] += 1

    writer = threading.Thread(target=write_without_pause)
    writer.start()
    try:
        peak, restarted = 0, False
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not restarted:
            size = wal.stat().st_size if wal.exists() else 0
            restarted = peak > 2 * LIMIT and size < peak // 2
            peak = max(peak, size)
            time.sleep(0.02)
    finally:
        stop.set()
        writer.join()
    try:
        assert restarted, f"the log grew to {peak} bytes and was never restarted"
        assert len(store.list_traces("acme", TraceQuery(limit=1000))) == min(written[0], 1000)
    finally:
        store.close()


def test_every_file_commits_with_synchronous_normal(tmp_path: Path) -> None:
    """In WAL mode, NORMAL commits are durable against a process crash and need no fsync; the span-id lookup file is
    attached, and an unqualified pragma would leave it at FULL (an fsync per lookup commit)."""
    store = SqliteStore(tmp_path / "observatory.db")
    try:
        normal = 1
        for conn, schemas in ((store._writer, ("main",)), (store._ids_writer, ("main", "ids")),
                              (store._reader(), ("main", "ids"))):
            for schema in schemas:
                assert conn.execute(f"PRAGMA {schema}.synchronous").fetchone()[0] == normal, schema
                assert conn.execute(f"PRAGMA {schema}.journal_mode").fetchone()[0] == "wal", schema
    finally:
        store.close()
