"""SqliteEventLog: the event log table (migrations 70-79), appends inside any write transaction, and reads."""

from __future__ import annotations

import sqlite3
import time

from core.adapters.sqlite.base import SqliteBase
from core.events import ChangeEvent
from core.normalise.jsontext import compact_json

# `seq` is the cursor: SQLite assigns it inside the writer's transaction, and writers are serialised (one
# write lock across processes), so sequence order is commit order: a reader paging with `since` never skips
# an event committed later with a smaller number. AUTOINCREMENT: a number is never reused after a delete.
MIGRATIONS: list[tuple[int, str]] = [
    (70, """
CREATE TABLE event_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, org_id TEXT NOT NULL, type TEXT NOT NULL, subject_id TEXT,
    workspace_id TEXT, task_id TEXT, data TEXT NOT NULL, created_ns INTEGER NOT NULL,
    dedup_key TEXT
);
CREATE INDEX event_log_org ON event_log(org_id, seq);
CREATE UNIQUE INDEX event_log_dedup ON event_log(org_id, dedup_key) WHERE dedup_key IS NOT NULL
"""),
]


def append_events(conn: sqlite3.Connection, org_id: str, events: list[ChangeEvent],
                  dedup_key: str | None = None) -> None:
    """Append events in the caller's write transaction (so an event exists exactly when its change does).
    ``dedup_key``: a redelivered batch (same key) appends nothing again; the i-th event gets ``key#i``."""
    if not events:
        return
    now = time.time_ns()
    conn.executemany(
        "INSERT OR IGNORE INTO event_log (org_id, type, subject_id, workspace_id, task_id, data, created_ns, "
        "dedup_key) VALUES (?,?,?,?,?,?,?,?)",
        [(org_id, e.type, e.subject_id, e.workspace_id, e.task_id, compact_json(e.data), now,
          f"{dedup_key}#{i}" if dedup_key else None) for i, e in enumerate(events)],
    )


class SqliteEventLog(SqliteBase):
    pass
