"""The SQLite store's write-ahead logs: bounded under writes that never pause, committed without an fsync each and
flushed by the checkpointer in small steps."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
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



def _log_frames(conn: object) -> int:
    """Frames in the log (a passive checkpoint reports them and changes nothing a reader sees)."""
    return int(conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])  # type: ignore[attr-defined]


def test_a_restart_never_holds_writers_behind_a_reader_unless_the_log_is_overdue(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "_RESTART_TRIES", 2)
    store = SqliteStore(tmp_path / "observatory.db", checkpoint_in_process=False)  # restarts only by this test
    service = IngestService(store, PriceTable.load(), SpanFilter.from_env())
    checkpointer, reader = store._connect(), store._connect()
    writes = iter(range(100))

    def frames_after_a_write() -> int:
        service.ingest("acme", "traces", trace_request(5), str(next(writes)))
        return _log_frames(checkpointer)

    try:
        frames_after_a_write()
        service.ingest("acme", "traces", trace_request(5), "not yet copied")
        reader.execute("BEGIN")
        assert reader.execute("SELECT COUNT(*) FROM spans").fetchone()[0] == 10  # reads the log from here on
        before = _log_frames(checkpointer)

        # A restart that waited for the reader would return only once this ends it, seconds later.
        released = threading.Event()
        timer = threading.Timer(3.0, lambda: (reader.execute("COMMIT"), released.set()))
        timer.start()
        store._restart_log(checkpointer, overdue=False)
        timer.cancel()
        assert not released.is_set()
        # Not restarted: the reader still reads the log, and the write lock was given back (this write commits).
        appended = frames_after_a_write()
        assert appended > before
        assert reader.execute("SELECT COUNT(*) FROM spans").fetchone()[0] == 10

        # Overdue: the restart waits for the reader (which ends meanwhile), and the next write rewinds the log.
        ended = threading.Timer(0.2, lambda: reader.execute("COMMIT"))
        ended.start()
        store._restart_log(checkpointer, overdue=True)
        ended.join()
        rewound = frames_after_a_write()
        assert rewound < appended

        grown = frames_after_a_write()
        store._restart_log(checkpointer, overdue=False)  # no reader: restarted at the first try
        assert frames_after_a_write() < grown
        assert len(store.list_traces("acme", TraceQuery(limit=10))) == 6
    finally:
        checkpointer.close()
        reader.close()
        store.close()


def test_the_last_write_time_moves_with_commits_only(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "observatory.db", checkpoint_in_process=False)
    service = IngestService(store, PriceTable.load(), SpanFilter.from_env())
    try:
        service.ingest("acme", "traces", trace_request(5), "1")
        first = store.last_write_ns()
        assert first is not None
        time.sleep(0.02)  # past the file system's clock tick
        store.list_traces("acme", TraceQuery(limit=10))
        assert store.last_write_ns() == first  # a read is no write
        service.ingest("acme", "traces", trace_request(5), "2")
        assert (store.last_write_ns() or 0) > first
    finally:
        store.close()


def test_a_restart_flushes_the_log_before_taking_the_write_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    """The flush of a second of unsynced commits happens while writers still commit, not while they queue."""
    store = SqliteStore(tmp_path / "observatory.db", checkpoint_in_process=False)
    service = IngestService(store, PriceTable.load(), SpanFilter.from_env())
    steps: list[str] = []
    lock = store._write_lock

    class Recorded:
        def __enter__(self) -> None:
            steps.append("lock")
            lock.__enter__()

        def __exit__(self, *exc: object) -> None:
            lock.__exit__(*exc)

        def close(self) -> None:
            lock.close()

    def fsync(fd: int) -> None:
        steps.append(f"fsync {Path(os.readlink(f'/proc/self/fd/{fd}')).name}")

    checkpointer = store._connect()
    try:
        service.ingest("acme", "traces", trace_request(5), "1")
        monkeypatch.setattr(base.os, "fsync", fsync)
        monkeypatch.setattr(store, "_write_lock", Recorded())
        store._restart_log(checkpointer, overdue=False)
        assert steps == ["fsync observatory.db-wal", "fsync observatory.db", "lock"]
    finally:
        checkpointer.close()
        store.close()


def _record_flushes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files the store flushes from now on (each flush still happens)."""
    flushed: list[str] = []
    real = base._datasync

    def datasync(fd: int) -> None:
        flushed.append(Path(os.readlink(f"/proc/self/fd/{fd}")).name)
        real(fd)

    monkeypatch.setattr(base, "_datasync", datasync)
    return flushed


def test_a_file_is_flushed_only_when_written_since_the_last_flush(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                  ) -> None:
    flushed = _record_flushes(monkeypatch)
    log = tmp_path / "observatory.db-wal"
    assert base.flush_if_written(log, None) is None and not flushed  # no log yet
    log.write_bytes(b"frame")
    seen = base.flush_if_written(log, None)
    assert seen == log.stat().st_mtime_ns and flushed == ["observatory.db-wal"]
    assert base.flush_if_written(log, seen) == seen and len(flushed) == 1  # unchanged: no second flush
    with log.open("ab") as f:
        f.write(b"frame")
    os.utime(log, ns=(seen + 1_000_000, seen + 1_000_000))  # a later write, past the file system's clock tick
    assert base.flush_if_written(log, seen) == seen + 1_000_000 and len(flushed) == 2


def test_the_checkpointer_flushes_the_log_between_checkpoints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    """Commits reach the disk within a flush interval, each flush small, not a second's worth at each checkpoint."""
    monkeypatch.setattr(base, "CHECKPOINT_S", 3600.0)  # no checkpoint syncs the log in this test
    flushed = _record_flushes(monkeypatch)
    store = SqliteStore(tmp_path / "observatory.db")
    service = IngestService(store, PriceTable.load(), SpanFilter.from_env())
    try:
        for n in range(3):
            before = flushed.count("observatory.db-wal")
            time.sleep(0.02)  # past the file system's clock tick: each write moves the log's modification time
            service.ingest("acme", "traces", trace_request(5), str(n))
            deadline = time.monotonic() + 5
            while flushed.count("observatory.db-wal") == before and time.monotonic() < deadline:
                time.sleep(base.WAL_FLUSH_S / 4)
            assert flushed.count("observatory.db-wal") > before, f"write {n} was not flushed: {flushed}"
        time.sleep(2 * base.WAL_FLUSH_S)  # a flush that read the time mid-commit is followed by one more
        settled = flushed.count("observatory.db-wal")
        time.sleep(4 * base.WAL_FLUSH_S)
        assert flushed.count("observatory.db-wal") == settled, flushed  # an idle log is not flushed again
    finally:
        store.close()


class _CommitsDuringPasses:
    """The checkpointer's connection, with ``commits`` (one per pass, until they run out) made by another
    connection while each passive checkpoint runs: what a writer that never pauses does to the catch-up."""

    def __init__(self, conn: sqlite3.Connection, commits: list[int], write: Callable[[int], None]) -> None:
        self._conn = conn
        self._commits = commits
        self._write = write
        self.passes = 0

    def execute(self, sql: str) -> sqlite3.Cursor:
        if sql == "PRAGMA wal_checkpoint(PASSIVE)":
            self.passes += 1
            if self._commits:
                self._write(self._commits.pop(0))
        return self._conn.execute(sql)


def test_the_catch_up_before_a_restart_passes_until_little_committed_meanwhile(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each pass copies what committed during the one before; the restart that follows copies and syncs under the
    write lock only what committed during the last (a first pass reports its own snapshot fully copied: stopping
    there left a whole checkpoint's commits to the lock)."""
    store = SqliteStore(tmp_path / "observatory.db", checkpoint_in_process=False)
    service = IngestService(store, PriceTable.load(), SpanFilter.from_env())
    checkpointer, reader = store._connect(), store._connect()
    names = iter(range(1000))

    def write(spans: int) -> None:
        service.ingest("acme", "traces", trace_request(spans), str(next(names)))

    try:
        write(5)
        # A reader in the log keeps it from being wholly copied, so no commit restarts it (as under load).
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM spans").fetchone()
        write(5)
        frames = _log_frames(checkpointer)
        leftover = 20  # frames: a 500-span batch writes about twice as many, a 1-span batch a few
        conn = _CommitsDuringPasses(checkpointer, [500, 500, 1], write)
        caught_up = base.catch_up(conn, frames, leftover)  # type: ignore[arg-type]
        assert conn.passes == 3  # two passes found a large commit behind them, the third a small one
        assert _log_frames(checkpointer) == caught_up  # nothing committed after the last pass

        monkeypatch.setattr(base, "_CATCH_UP_PASSES", 4)
        conn = _CommitsDuringPasses(checkpointer, [500] * 10, write)
        base.catch_up(conn, caught_up, leftover)  # type: ignore[arg-type]
        assert conn.passes == 4  # a writer that keeps committing large batches: bounded
    finally:
        reader.close()
        checkpointer.close()
        store.close()
