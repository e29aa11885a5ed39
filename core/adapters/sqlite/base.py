"""SqliteBase: one SQLite file's connections (a writer, a reader per thread), the cross-process write lock,
transactions, migrations and background WAL checkpoints; every SQLite mixin builds on it."""

from __future__ import annotations

import contextlib
import operator
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from core.adapters.sqlite.schema import migrate
from core.errors import StorageUnavailable

try:  # POSIX: writers of several processes (server, worker) queue on a kernel lock
    import fcntl
except ImportError:  # pragma: no cover - Windows: SQLite's own busy handler is the only arbiter
    fcntl = None  # type: ignore[assignment]

# Python 3.11's sqlite3 searches for an adapter for every parameter that is not exactly an int, float, str or
# bytearray, and the search that finds none costs about 0.24 us: a span row binds a dozen None values and a bool,
# which took a fifth of the 100-span insert (0.25 ms of about 1.15). A registered adapter is found at once, and both
# bind what was bound before: None (NULL) for None, the integer for a bool.
def _null(value: None) -> None:
    return value


sqlite3.register_adapter(type(None), _null)
sqlite3.register_adapter(bool, operator.index)

# A restart stalls writers for a few milliseconds: once per this many bytes of log under continuous load. The
# size limit is twice that, so a rewound log is reused in place: cutting a 1 GiB log back (freeing its blocks on a
# disk mounted with discard) stalled every writer for about a second.
WAL_RESTART_BYTES = 128 * 1024 * 1024
WAL_SIZE_LIMIT = 2 * WAL_RESTART_BYTES
# Before a restart takes the lock, passive checkpoints catch up until one copies less than this (about a request
# and a half of 100 spans): what commits meanwhile, copied and synced under the lock, is then as small.
_RESTART_LEFTOVER_BYTES = 1024 * 1024
_CATCH_UP_PASSES = 10
_RESTART_TRIES = 20
_RESTART_RETRY_S = 0.025
_BUSY_TIMEOUT_MS = 10_000
CHECKPOINT_S = 1.0
# With synchronous=NORMAL, SQLite syncs the log only when it checkpoints: a second of commits at once (about
# 100 MB under a busy exporter), flushed while the writer kept appending to the same file, slowed the requests
# overlapping it to about twice their time. Flushing what was written every 50 ms keeps each flush small (c=1 p99
# of bench/ingest.py, interleaved runs: 0.25 s > 0.1 s > 0.05 s, about as good as 0.02 s); commits also reach the
# disk within that time, not at the next checkpoint. An idle store is not flushed.
WAL_FLUSH_S = 0.05


class _WriteLock:
    """One writer at a time across threads and processes. SQLite alone would make a second process's writer
    poll with growing sleeps (up to 100 ms each) while the first commits; a blocking flock wakes it at once."""

    def __init__(self, path: Path) -> None:
        self._thread_lock = threading.Lock()
        self._file = open(path, "a+b") if fcntl is not None else None  # noqa: SIM115 - held for the store's life

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        if self._file is not None:
            try:
                fcntl.flock(self._file.fileno(), fcntl.LOCK_EX)
            except BaseException:
                self._thread_lock.release()
                raise

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
        self._thread_lock.release()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


_datasync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync


def _sync_file(path: Path, sync: Callable[[int], None]) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        sync(fd)
    finally:
        os.close(fd)


def flush_if_written(path: Path, flushed_ns: int | None) -> int | None:
    """fdatasync ``path`` when it was modified since ``flushed_ns`` (its modification time at the last flush, which
    this returns); a file that does not exist yet is left alone. Only an early flush: a write this misses (one in
    the same clock tick as the time read) is synced by the next one, or by the checkpoint, as before."""
    try:
        modified = os.stat(path).st_mtime_ns  # an idle store costs one stat per pass, no open
    except FileNotFoundError:
        return flushed_ns
    if modified != flushed_ns:
        _sync_file(path, _datasync)
    return modified


def catch_up(conn: sqlite3.Connection, log_frames: int, leftover_frames: int) -> int:
    """Passive checkpoints after the one that saw ``log_frames``, until a pass copies fewer than ``leftover_frames``
    frames committed since the pass before it (at most `_CATCH_UP_PASSES`); returns the log's frames then. Each
    pass copies what committed during the previous one, so they shorten: the restart that follows copies and syncs
    under the write lock only what committed during the last. (One pass reports its own snapshot fully copied: the
    one pass that used to run left the restart the commits of a whole second's checkpoint, 8-23 ms under the
    lock.)"""
    for _ in range(_CATCH_UP_PASSES):
        _, frames, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        new, log_frames = frames - log_frames, frames
        if new < leftover_frames:  # also when a writer restarted the log meanwhile (fewer frames than before)
            break
    return log_frames


class SqliteBase:
    """WAL mode with synchronous=NORMAL: a write is durable once its transaction commits (the OS may lose
    it only on power loss, not on a process crash). Writes are serialised by one lock on one connection;
    reads use a connection per thread and never block writers."""

    def __init__(self, path: Path | str, checkpoint_in_process: bool = True) -> None:
        """`checkpoint_in_process=False`: another process sharing the file (the local worker) runs
        `start_checkpointer()`, so the serving process spends no CPU or fsync on checkpoints."""
        self.path = Path(path)
        self._checkpoint_in_process = checkpoint_in_process
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write_lock = _WriteLock(self.path.with_name(self.path.name + ".writelock"))
        self._local = threading.local()
        self._checkpointer: threading.Thread | None = None
        self._closed = threading.Event()
        self._ids_lock = _WriteLock(self.path.with_name(self.path.name + ".ids.writelock"))
        # WAL mode is a property of the file, set once here under the write locks: a switch from the rollback
        # journal needs an exclusive lock that SQLite does not wait for, so processes opening a new store at
        # once (server workers and the bus worker at start) would fail with "database is locked".
        try:
            with self._write_lock:
                self._writer = self._connect()
                self._writer.execute("PRAGMA journal_mode=WAL")
                # Checkpoints (which fsync the database file) run on a background thread, not inside a request's
                # commit; started on first write so it lives in the serving process (after any fork).
                self._writer.execute("PRAGMA wal_autocheckpoint=0")
                self.schema_version = migrate(self._writer)
                with self._ids_lock:
                    self._ids_writer = self._connect(lookups=True)
                    self._ids_writer.execute("PRAGMA ids.journal_mode=WAL")
                self._create_lookups()
        except sqlite3.OperationalError as exc:  # locked, unreadable, disk full: the request may retry later
            self._write_lock.close()
            self._ids_lock.close()
            raise StorageUnavailable(f"store cannot open {self.path.name}: {exc}") from exc

    def start_checkpointer(self) -> None:
        """Flush the WAL every `WAL_FLUSH_S` and copy committed pages into the database file every `CHECKPOINT_S`,
        on a background thread."""
        if self._checkpointer is None:
            self._checkpointer = threading.Thread(target=self._checkpoint_loop, name="wal-checkpoint", daemon=True)
            self._checkpointer.start()

    def _checkpoint_loop(self) -> None:
        conn = self._connect()
        page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        wal = self.path.with_name(self.path.name + "-wal")
        flushed: int | None = None
        next_checkpoint = time.monotonic() + CHECKPOINT_S
        try:
            while not self._closed.wait(WAL_FLUSH_S):
                with contextlib.suppress(OSError):  # a flush that failed is tried again; checkpoints sync anyway
                    flushed = flush_if_written(wal, flushed)
                if time.monotonic() < next_checkpoint:
                    continue
                next_checkpoint = time.monotonic() + CHECKPOINT_S
                with contextlib.suppress(sqlite3.Error):  # busy: the next pass catches up
                    _, log_frames, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    # Under sustained writes a passive checkpoint never finishes before the next commit, so the
                    # log is never rewound and would grow without bound. Past the limit, hold the write lock
                    # (writers of every process queue on it) and restart the log: the next commit writes from its
                    # start, and journal_size_limit trims the file only if it grew past twice the limit.
                    if log_frames * page_size > WAL_RESTART_BYTES:
                        log_frames = catch_up(conn, log_frames, _RESTART_LEFTOVER_BYTES // page_size)
                        if log_frames * page_size > WAL_RESTART_BYTES:  # else a writer restarted it meanwhile
                            self._restart_log(conn, log_frames * page_size > 2 * WAL_RESTART_BYTES)
        finally:
            conn.close()

    def _restart_log(self, conn: sqlite3.Connection, overdue: bool) -> None:
        """Restart the log under the write lock. A restart waits (SQLite's busy handler, sleeping 1, 2, 5, 10 ms
        and longer) until no reader still reads the log, and every writer waited behind it: 15-45 ms when a reader
        was mid-read. So it is first tried without waiting: with a reader in the log it copies what it can and
        gives the lock back, and is tried again shortly. Only a log ``overdue`` (past twice the limit: readers
        never paused) is restarted waiting for its readers, which bounds the log's size.

        The restart also flushes the log and the database file to disk first (synchronous=NORMAL commits never
        do; the checkpointer's flushes leave the log 50 ms behind at most, the database file up to a second's
        checkpoint, 20-40 ms on this kind of disk). They are flushed here, before the lock, so the restart under it
        flushes only the last few commits."""
        for suffix in ("-wal", ""):
            with contextlib.suppress(OSError):  # no log yet: nothing to flush
                _sync_file(self.path.with_name(self.path.name + suffix), os.fsync)
        for _ in range(_RESTART_TRIES):
            with self._write_lock:
                conn.execute("PRAGMA busy_timeout=0")
                try:
                    busy = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()[0]
                finally:
                    conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            if not busy or self._closed.wait(_RESTART_RETRY_S):
                return
        if overdue:
            with self._write_lock:
                conn.execute("PRAGMA wal_checkpoint(RESTART)")

    def _connect(self, lookups: bool = False) -> sqlite3.Connection:
        """A connection to the main file; with ``lookups`` the `ids` file is attached too. The writer never
        attaches it: BEGIN IMMEDIATE would lock every attached file, and lookups must not share ingest's lock."""
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10.0)
        conn.row_factory = sqlite3.Row
        if lookups:
            conn.execute("ATTACH DATABASE ? AS ids", (str(self.path.with_name(self.path.stem + "-ids.db")),))
        # Per-file settings name their schema: unqualified, they set `main` only, and the `ids` file would commit
        # with synchronous=FULL (an fsync per lookup commit, stalling the disk the ingest commits write to).
        for schema in ("main", "ids") if lookups else ("main",):
            conn.execute(f"PRAGMA {schema}.synchronous=NORMAL")
            conn.execute(f"PRAGMA {schema}.journal_size_limit={WAL_SIZE_LIMIT}")
        conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect(lookups=True)
        return conn

    def _create_lookups(self) -> None:
        """The lookup tables of the `ids` file (idempotent; a new file is filled from the facts once)."""
        with self.lookup_transaction() as conn:
            exists = conn.execute(
                "SELECT 1 FROM ids.sqlite_master WHERE type = 'table' AND name = 'span_ids'").fetchone()
            if exists is None:
                conn.execute("CREATE TABLE ids.span_ids (org_id TEXT NOT NULL, span_id TEXT NOT NULL, "
                             "trace_id TEXT NOT NULL, PRIMARY KEY (org_id, span_id, trace_id)) WITHOUT ROWID")
                conn.execute("INSERT OR IGNORE INTO ids.span_ids SELECT org_id, span_id, trace_id FROM main.spans")
            # Traces whose spans are still to be indexed (SqliteSpanViews.index_span_ids): appended in order.
            conn.execute("CREATE TABLE IF NOT EXISTS ids.span_traces_pending (org_id TEXT NOT NULL, "
                         "trace_id TEXT NOT NULL)")

    @contextmanager
    def lookup_transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction on the `ids` file only, under its own lock: lookup tables maintained off the
        ingest path (random keys dirty a page per row) never make an ingest commit wait."""
        with self._ids_lock:
            conn = self._ids_writer
            conn.execute("BEGIN")
            try:
                yield conn
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                conn.execute("ROLLBACK")
                raise StorageUnavailable(f"store cannot take the write: {exc}") from exc
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE .. COMMIT) under the write lock; rolled back on any error.
        A SQLite failure surfaces as StorageUnavailable (503 + Retry-After), never as a half-written state."""
        if self._checkpointer is None and self._checkpoint_in_process:
            self.start_checkpointer()
        with self._write_lock:
            conn = self._writer
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StorageUnavailable(f"store cannot take the write: {exc}") from exc
            try:
                yield conn
                conn.execute("COMMIT")
            except sqlite3.IntegrityError:
                conn.execute("ROLLBACK")
                raise  # a constraint the caller may turn into a 4xx
            except sqlite3.Error as exc:
                conn.execute("ROLLBACK")
                raise StorageUnavailable(f"store cannot take the write: {exc}") from exc
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        self._closed.set()
        if self._checkpointer is not None:
            self._checkpointer.join(timeout=5)
        self._writer.close()
        self._write_lock.close()
        self._ids_writer.close()
        self._ids_lock.close()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
