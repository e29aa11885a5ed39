"""SqliteEventLog: the event log table (migrations 70-79), appends inside any write transaction, and reads."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from core.adapters.sqlite.base import SqliteBase
from core.adapters.sqlite.times import from_ns
from core.events import ChangeEvent
from core.normalise.jsontext import compact_json
from core.ports.event_log import EventLogStore

if TYPE_CHECKING:
    from core.event_feed import ChangeEventView

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
    # The feed's filters, each in sequence order; `created_ns` for the retention job's deletes.
    (71, """
CREATE INDEX event_log_task ON event_log(org_id, task_id, seq) WHERE task_id IS NOT NULL;
CREATE INDEX event_log_workspace ON event_log(org_id, workspace_id, seq) WHERE workspace_id IS NOT NULL;
CREATE INDEX event_log_type ON event_log(org_id, type, seq);
CREATE INDEX event_log_created ON event_log(created_ns)
"""),
]

# Retention deletes this many rows per transaction, so ingest never waits long behind it.
_DROP_CHUNK = 5000


def append_events(conn: sqlite3.Connection, org_id: str, events: list[ChangeEvent],
                  dedup_key: str | None = None) -> int:
    """Append events in the caller's write transaction (so an event exists exactly when its change does).
    ``dedup_key``: a redelivered batch (same key) appends nothing again; the i-th event gets ``key#i``.
    Returns how many events were appended."""
    if not events:
        return 0
    now = time.time_ns()
    before = conn.total_changes
    conn.executemany(
        "INSERT OR IGNORE INTO event_log (org_id, type, subject_id, workspace_id, task_id, data, created_ns, "
        "dedup_key) VALUES (?,?,?,?,?,?,?,?)",
        [(org_id, e.type, e.subject_id, e.workspace_id, e.task_id, compact_json(e.data), now,
          f"{dedup_key}#{i}" if dedup_key else None) for i, e in enumerate(events)],
    )
    return conn.total_changes - before


def task_workspaces(conn: sqlite3.Connection, org_id: str, task_ids: Iterable[str | None]) -> dict[str, str | None]:
    """The workspace of each existing task (an event of a task's entity carries its task's workspace)."""
    ids = sorted({t for t in task_ids if t})
    out: dict[str, str | None] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        for task_id, workspace_id in conn.execute(
                f"SELECT id, workspace_id FROM tasks WHERE org_id = ? AND id IN ({','.join('?' * len(chunk))})",
                (org_id, *chunk)):
            out[task_id] = workspace_id
    return out


def task_workspace(conn: sqlite3.Connection, org_id: str, task_id: str | None) -> str | None:
    return task_workspaces(conn, org_id, [task_id]).get(task_id or "") if task_id else None


class SqliteEventLog(SqliteBase, EventLogStore):
    def append_events(self, org_id: str, events: list[ChangeEvent], dedup_key: str | None = None) -> int:
        with self.transaction() as conn:
            return append_events(conn, org_id, events, dedup_key)

    def list_events(self, org_id: str, since: int, limit: int, types: Sequence[str] = (),
                    workspace_id: str | None = None, task_id: str | None = None) -> list[ChangeEventView]:
        from core.event_feed import ChangeEventView

        clauses = ["org_id = ?", "seq > ?"]
        params: list[Any] = [org_id, min(since, 2**63 - 1)]
        if types:
            clauses.append(f"type IN ({','.join('?' * len(types))})")
            params += list(types)
        if workspace_id is not None:
            clauses.append("workspace_id = ?")
            params.append(workspace_id)
        if task_id is not None:
            clauses.append("task_id = ?")
            params.append(task_id)
        rows = self._reader().execute(
            "SELECT seq, type, subject_id, workspace_id, task_id, data, created_ns FROM event_log "
            f"WHERE {' AND '.join(clauses)} ORDER BY seq LIMIT ?", [*params, limit]).fetchall()
        return [ChangeEventView(seq=r["seq"], type=r["type"], subject_id=r["subject_id"],
                                workspace_id=r["workspace_id"], task_id=r["task_id"], data=json.loads(r["data"]),
                                created_at=from_ns(r["created_ns"])) for r in rows]

    def last_event_seq(self, org_id: str) -> int:
        row = self._reader().execute("SELECT MAX(seq) FROM event_log WHERE org_id = ?", (org_id,)).fetchone()
        return int(row[0] or 0)

    def drop_events_before(self, cutoff_ns: int) -> int:
        dropped = 0
        while True:
            with self.transaction() as conn:
                n = conn.execute(
                    "DELETE FROM event_log WHERE seq IN "
                    "(SELECT seq FROM event_log WHERE created_ns < ? ORDER BY created_ns LIMIT ?)",
                    (cutoff_ns, _DROP_CHUNK)).rowcount
            dropped += n
            if n < _DROP_CHUNK:
                return dropped


