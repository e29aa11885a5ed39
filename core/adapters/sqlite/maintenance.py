"""SqliteMaintenance: retention deletes in chunks, store health, outbox dead letters (migrations 80-89)."""

from __future__ import annotations

import logging
import sqlite3
import time

from core.adapters.sqlite.base import SqliteBase
from core.adapters.sqlite.outbox_rows import unpack
from core.ports.maintenance import (
    EVENTS,
    LLM_CALLS,
    MESSAGES,
    METRIC_POINTS,
    SESSIONS,
    SPANS,
    TOOL_CALLS,
    DeadLetter,
    MaintenanceStore,
    SizeThresholds,
    StoreHealth,
)

log = logging.getLogger(__name__)

# Every other table retention touches already has an (org_id, time) index (spans_start, events_time,
# llm_calls_insights_time, tool_calls_insights_time, sessions_recent, messages_recent); metric points had none.
# The outbox carries no org (a pipeline queue, like Pub/Sub), and neither do its dead letters.
MIGRATIONS: list[tuple[int, str]] = [
    (80, """
CREATE INDEX metric_points_time ON metric_points(org_id, time_ns);
CREATE TABLE outbox_dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT, outbox_id INTEGER NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL,
    enqueued_ns INTEGER NOT NULL, attempts INTEGER NOT NULL, reason TEXT NOT NULL, failed_ns INTEGER NOT NULL
)
"""),
]

# kind -> (table, time column). Rows with no time (a tool call only ever seen by its id) are kept.
_TTL_COLUMNS: dict[str, tuple[str, str]] = {
    SPANS: ("spans", "start_ns"),
    METRIC_POINTS: ("metric_points", "time_ns"),
    EVENTS: ("events", "time_ns"),
    SESSIONS: ("sessions", "last_seen_ns"),
    LLM_CALLS: ("llm_calls", "time_ns"),
    TOOL_CALLS: ("tool_calls", "time_ns"),
    MESSAGES: ("messages", "created_ns"),
}
_RETURNING = {SPANS: " RETURNING trace_id, span_id", SESSIONS: " RETURNING session_id"}
_MOVE_TO_DEAD_LETTERS = (
    "INSERT INTO outbox_dead_letters (outbox_id, topic, payload, enqueued_ns, attempts, reason, failed_ns) "
    "SELECT id, topic, payload, created_ns, attempts, ?, ? FROM outbox WHERE id IN ({ids})"
)


def _marks(n: int) -> str:
    return ",".join("?" * n)


class SqliteMaintenance(SqliteBase, MaintenanceStore):
    # Instance-overridable so a test can exercise every band without writing gigabytes.
    size_thresholds: SizeThresholds = SizeThresholds()

    # -- retention --------------------------------------------------------------------------------
    def delete_expired(self, kind: str, cutoff_ns: int, chunk: int = 5000) -> int:
        if kind not in _TTL_COLUMNS:
            raise ValueError(f"unknown retention kind {kind!r}")
        if chunk < 1:
            raise ValueError("chunk must be at least 1")
        table, column = _TTL_COLUMNS[kind]
        deleted = 0
        # One org at a time so every delete walks an (org_id, time) index; orgs are found by index seeks.
        org: str | None = ""
        while True:
            row = self._reader().execute(f"SELECT MIN(org_id) FROM {table} WHERE org_id > ?", (org,)).fetchone()
            org = row[0] if row else None
            if org is None:
                return deleted
            deleted += self._delete_org_expired(kind, table, column, org, cutoff_ns, chunk)

    def _delete_org_expired(self, kind: str, table: str, column: str, org: str, cutoff_ns: int, chunk: int) -> int:
        deleted = 0
        while True:
            # A short transaction per chunk: an ingest commit waits behind one chunk at most.
            with self.transaction() as conn:
                returned = conn.execute(
                    f"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} WHERE org_id = ? AND "
                    f"{column} < ? LIMIT ?){_RETURNING.get(kind, '')}", (org, cutoff_ns, chunk)).fetchall()
                n = len(returned) if kind in _RETURNING else conn.execute("SELECT changes()").fetchone()[0]
                if kind == SESSIONS and returned:
                    # A link of a session that is gone would re-attach a future session of the same id.
                    conn.executemany("DELETE FROM session_links WHERE org_id = ? AND session_id = ?",
                                     [(org, r[0]) for r in returned])
            if kind == SPANS and returned:
                # The id lookups live in the `ids` file under their own lock; a crash between the two
                # commits leaves lookups whose span reads answer 404, never a wrong row.
                with self.lookup_transaction() as ids:
                    ids.executemany("DELETE FROM ids.span_ids WHERE org_id = ? AND span_id = ? AND trace_id = ?",
                                    [(org, r[1], r[0]) for r in returned])
            deleted += n
            if n < chunk:
                return deleted

    def health(self) -> StoreHealth:
        files: dict[str, int] = {}
        for path in (self.path, self.path.with_name(self.path.name + "-wal"),
                     self.path.with_name(self.path.stem + "-ids.db"),
                     self.path.with_name(self.path.stem + "-ids.db-wal")):
            try:
                files[path.name] = path.stat().st_size
            except OSError:  # a missing WAL is normal after a clean close
                continue
        size = sum(files.values())
        status, message = self.size_thresholds.classify(size)
        health = StoreHealth(backend="sqlite", status=status, message=message, size_bytes=size, files=files)
        if status == "danger":
            log.error("STORE HEALTH DANGER: %s (%d bytes in %s); nothing was deleted", message, size, self.path)
        elif status != "ok":
            log.warning("store health %s: %s (%d bytes in %s)", status, message, size, self.path)
        return health

    # -- outbox dead letters ----------------------------------------------------------------------
    def record_outbox_failure(self, ids: list[int], reason: str, max_attempts: int) -> int:
        if not ids:
            return 0
        marks = _marks(len(ids))
        with self.transaction() as conn:
            conn.execute(f"UPDATE outbox SET attempts = attempts + 1 WHERE id IN ({marks})", ids)
            spent = [r[0] for r in conn.execute(
                f"SELECT id FROM outbox WHERE id IN ({marks}) AND attempts >= ?", (*ids, max_attempts))]
            return self._move(conn, spent, reason)

    def dead_letter_outbox(self, ids: list[int], reason: str) -> int:
        if not ids:
            return 0
        with self.transaction() as conn:
            return self._move(conn, ids, reason)

    @staticmethod
    def _move(conn: sqlite3.Connection, ids: list[int], reason: str) -> int:
        if not ids:
            return 0
        marks = _marks(len(ids))
        conn.execute(_MOVE_TO_DEAD_LETTERS.format(ids=marks), (reason, time.time_ns(), *ids))
        return int(conn.execute(f"DELETE FROM outbox WHERE id IN ({marks})", ids).rowcount)

    def list_dead_letters(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        rows = self._reader().execute(
            "SELECT id, topic, payload, reason, attempts, enqueued_ns, failed_ns FROM outbox_dead_letters "
            "ORDER BY id LIMIT ? OFFSET ?", (limit, offset)).fetchall()
        return [DeadLetter(r[0], r[1], unpack(bytes(r[2])), r[3], r[4], r[5], r[6]) for r in rows]

    def dead_letter_count(self) -> int:
        return int(self._reader().execute("SELECT COUNT(*) FROM outbox_dead_letters").fetchone()[0])

    def replay_dead_letters(self, ids: list[int] | None = None) -> int:
        where, args = ("", ()) if ids is None else (f" WHERE id IN ({_marks(len(ids))})", tuple(ids))
        if ids is not None and not ids:
            return 0
        with self.transaction() as conn:
            # Same transaction: a replayed message is in exactly one of the two tables.
            conn.execute("INSERT INTO outbox (topic, payload, created_ns) SELECT topic, payload, ? "
                         f"FROM outbox_dead_letters{where} ORDER BY id", (time.time_ns(), *args))
            return int(conn.execute(f"DELETE FROM outbox_dead_letters{where}", args).rowcount)

    # -- ops counters -----------------------------------------------------------------------------
    def oldest_outbox_ns(self) -> int | None:
        row = self._reader().execute("SELECT created_ns FROM outbox ORDER BY id LIMIT 1").fetchone()
        return None if row is None else int(row[0])

    def rejection_counts(self, org_id: str) -> dict[str, int]:
        rows = self._reader().execute(
            "SELECT reason, SUM(count) FROM rejections WHERE org_id = ? GROUP BY reason ORDER BY reason",
            (org_id,)).fetchall()
        return {r[0]: int(r[1]) for r in rows}
