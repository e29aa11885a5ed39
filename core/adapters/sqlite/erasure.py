"""SqliteErasure: the SQL of the erasure API area on SqliteBase (tables in MIGRATIONS below)."""

from __future__ import annotations

from core.adapters.sqlite.base import SqliteBase
from core.adapters.sqlite.outbox_rows import insert_outbox
from core.ports.erasure import PURGED_TABLES, PurgeNotice

# The area keeps no tables of its own (versions 40-49 are reserved for it).
MIGRATIONS: list[tuple[int, str]] = []

# Calls and tool calls are also found through the session's spans: a call stored before its session id
# was known (a span placeholder, a joined call) still belongs to the session.
_OF_SESSION_SPANS = "(trace_id, span_id) IN (SELECT trace_id, span_id FROM spans WHERE org_id = ? AND session_id = ?)"
# Spans go after the calls and tool calls found through them. Value: (statement, (org, session) pairs).
_DELETES: tuple[tuple[str, str, int], ...] = (
    ("llm_calls", f"DELETE FROM llm_calls WHERE org_id = ? AND (session_id = ? OR {_OF_SESSION_SPANS})", 2),
    ("tool_calls", f"DELETE FROM tool_calls WHERE org_id = ? AND (session_id = ? OR {_OF_SESSION_SPANS})", 2),
    ("events", "DELETE FROM events WHERE org_id = ? AND session_id = ?", 1),
    ("metric_points", "DELETE FROM metric_points WHERE org_id = ? AND session_id = ?", 1),
    ("spans", "DELETE FROM spans WHERE org_id = ? AND session_id = ?", 1),
    ("sessions", "DELETE FROM sessions WHERE org_id = ? AND session_id = ?", 1),
    ("session_links", "DELETE FROM session_links WHERE org_id = ? AND session_id = ?", 1),
)


class SqliteErasure(SqliteBase):
    def purge_session(self, org_id: str, session_id: str, notice: PurgeNotice | None = None) -> dict[str, int]:
        counts: dict[str, int] = {}
        with self.transaction() as conn:
            traces: list[str] = []
            tasks: list[str] = []
            if notice is not None:
                traces = [r[0] for r in conn.execute(
                    "SELECT DISTINCT trace_id FROM spans WHERE org_id = ? AND session_id = ? ORDER BY 1",
                    (org_id, session_id))]
                tasks = [r[0] for r in conn.execute(
                    "SELECT DISTINCT task_id FROM spans WHERE org_id = ? AND session_id = ? "
                    "AND task_id IS NOT NULL ORDER BY 1", (org_id, session_id))]
            erased_ids = conn.execute("SELECT span_id, trace_id FROM spans WHERE org_id = ? AND session_id = ?",
                                      (org_id, session_id)).fetchall()
            for table, sql, pairs in _DELETES:
                counts[table] = conn.execute(sql, (org_id, session_id) * pairs).rowcount
            counts = {table: counts[table] for table in PURGED_TABLES}
            if notice is not None and any(counts.values()):
                insert_outbox(conn, notice(traces, tasks, counts))
        if erased_ids:  # the span-id lookup lives in its own file, written under its own lock
            with self.lookup_transaction() as ids:
                ids.executemany("DELETE FROM ids.span_ids WHERE org_id = ? AND span_id = ? AND trace_id = ?",
                                [(org_id, r[0], r[1]) for r in erased_ids])
        return counts
