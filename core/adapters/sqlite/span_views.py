"""SqliteSpanViews: the SQL of the span_views API area on SqliteBase (indexes in MIGRATIONS below)."""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any

from core import events
from core.adapters.sqlite.base import SqliteBase
from core.adapters.sqlite.event_log import append_events, task_workspace
from core.adapters.sqlite.outbox_rows import insert_outbox
from core.adapters.sqlite.schema import SPAN_COLUMNS
from core.hierarchy.names import EXEC_SPAN_NAMES
from core.ports.bus import TELEMETRY_INGESTED
from core.ports.span_views import (
    ActivitySource,
    CreateOutcome,
    SessionActivity,
    SessionDigest,
    span_change_payload,
    span_record_of,
)

if TYPE_CHECKING:
    from core.hierarchy.models import TaskSpanSummary
    from core.models import SpanQuery, SpanView, ToolCallView
    from core.records import SpanRecord


def _name_is_any(names: tuple[str, ...] | list[str]) -> str:
    """`(name = 'a' OR name = 'b')` with literal (quoted) names: a query names them so to use the partial index.
    Not `name IN (...)`: SQLite builds a table of an IN list each time it tests a row against an index's condition,
    which made every span insert 2 us slower (0.2 ms of a 100-span request) for an index few spans enter."""
    return "(" + " OR ".join("name = '" + n.replace("'", "''") + "'" for n in names) + ")"



MIGRATIONS: list[tuple[int, str]] = [
    (30, """
CREATE INDEX spans_id ON spans(org_id, span_id, start_ns);
CREATE INDEX spans_trace_start ON spans(org_id, trace_id, start_ns, span_id);
CREATE INDEX spans_model_start ON spans(org_id, model, start_ns) WHERE model IS NOT NULL;
DROP INDEX IF EXISTS spans_task;
CREATE INDEX spans_task_start ON spans(org_id, task_id, start_ns) WHERE task_id IS NOT NULL;
CREATE INDEX session_links_task ON session_links(org_id, task_id) WHERE task_id IS NOT NULL
"""),
    # Span ids are random: an index on spans(span_id) dirties one page per ingested span (it doubled the pages
    # each ingest commit writes). GET /spans/{id} looks ids up in `ids.span_ids` instead (SqliteBase), filled by
    # the aggregate worker from the traces a batch touched, in a file of its own, off the ingest path.
    (31, "DROP INDEX IF EXISTS spans_id"),
    # The exec-span index (migration 30 made it with an IN list) with its condition as an OR of names
    # (`_name_is_any`), the form exec_spans queries with.
    (32, f"""
DROP INDEX IF EXISTS spans_exec;
CREATE INDEX spans_exec ON spans(org_id, start_ns) WHERE {_name_is_any(EXEC_SPAN_NAMES)}
"""),
]
# Span ids are indexed in bulk: each random key dirties a page of the lookup tree, and a page dirtied by a thousand
# traces' keys in one commit is written once, not once per trace (per-delivery commits cost the aggregate worker
# about 1.5 ms and 400 KiB of log per 100-span trace, a fifth of the local stack's ingest rate on two cores).
# The worker queues the traces a delivery touched; they are indexed once this many are queued, or at once when a
# lookup by id misses, so a span is found as soon as its trace is queued.
INDEX_PENDING_TRACES = 1000
_INDEX_PENDING = ("INSERT OR IGNORE INTO ids.span_ids SELECT s.org_id, s.span_id, s.trace_id FROM "
                  "(SELECT DISTINCT org_id, trace_id FROM ids.span_traces_pending WHERE rowid <= ?) AS p "
                  "JOIN main.spans AS s ON s.org_id = p.org_id AND s.trace_id = p.trace_id ORDER BY 1, 2, 3")

_INSERT = (f"INSERT INTO spans ({','.join(SPAN_COLUMNS)}) VALUES ({','.join('?' * len(SPAN_COLUMNS))}) "
           "ON CONFLICT(org_id, trace_id, span_id) DO NOTHING")
_UPDATE = (f"UPDATE spans SET {', '.join(f'{c} = ?' for c in SPAN_COLUMNS[3:])} "
           "WHERE org_id = ? AND trace_id = ? AND span_id = ?")
_SEE_SESSION = """
INSERT INTO sessions (org_id, session_id, first_seen_ns, last_seen_ns, service_name, source_type, workspace, models)
VALUES (?,?,?,?,?,?,?,?)
ON CONFLICT(org_id, session_id) DO UPDATE SET
    first_seen_ns = MIN(sessions.first_seen_ns, excluded.first_seen_ns),
    last_seen_ns = MAX(sessions.last_seen_ns, excluded.last_seen_ns),
    service_name = COALESCE(sessions.service_name, excluded.service_name),
    source_type = CASE WHEN sessions.source_type = 'other' THEN excluded.source_type ELSE sessions.source_type END,
    workspace = COALESCE(sessions.workspace, excluded.workspace),
    models = (SELECT json_group_array(value) FROM (
        SELECT value FROM json_each(sessions.models) UNION SELECT value FROM json_each(excluded.models)
        ORDER BY value))
"""
_INT64 = 2**63 - 1
_PROMPT_EVENTS = ("claude_code.user_prompt", "gemini_cli.user_prompt", "user_prompt")
_TOOL_LITE = ("tool_use_id, session_id, tool_name, time_ns, duration_ms, success, error, decision, decision_source, "
              "approval_wait_ms, tool_input, trace_id, span_id")


def _row(org_id: str, s: SpanRecord) -> tuple[Any, ...]:
    u, links = s.usage, s.links
    return (org_id, s.trace_id, s.span_id, s.parent_span_id, s.name, s.kind, s.status, s.status_message,
            s.start_ns, s.end_ns, s.duration_ms, s.session_id, s.service_name, s.source_type, s.workspace or None,
            u.model, u.provider, u.tokens_in, u.tokens_out, u.cache_read_tokens, u.cache_creation_tokens,
            u.reasoning_tokens, u.provided_cost_usd, u.computed_cost_usd, u.cost_usd, u.cache_savings_usd,
            int(u.unpriced), links.task_id, links.assignment_id, links.chain_id, links.stage_id, links.message_id,
            s.attributes_json, s.resource_json, s.events_json)


def _index_pending(conn: sqlite3.Connection) -> bool:
    last = conn.execute("SELECT max(rowid) FROM ids.span_traces_pending").fetchone()[0]
    if last is None:
        return False
    conn.execute(_INDEX_PENDING, (last,))
    conn.execute("DELETE FROM ids.span_traces_pending WHERE rowid <= ?", (last,))
    return True


def _marks(items: list[Any] | tuple[Any, ...]) -> str:
    return ",".join("?" * len(items))


def _tool_view(r: sqlite3.Row) -> ToolCallView:
    from core.adapters.sqlite.reads import _dt
    from core.models import ToolCallView

    keys = r.keys()
    return ToolCallView(
        tool_use_id=r["tool_use_id"], session_id=r["session_id"], tool_name=r["tool_name"],
        start_time=_dt(r["time_ns"]), duration_ms=r["duration_ms"],
        success=None if r["success"] is None else bool(r["success"]), error=r["error"], decision=r["decision"],
        decision_source=r["decision_source"], approval_wait_ms=r["approval_wait_ms"], tool_input=r["tool_input"],
        tool_response=r["tool_result"] if "tool_result" in keys else None, trace_id=r["trace_id"],
        span_id=r["span_id"],
    )


class SqliteSpanViews(SqliteBase):
    # -- span writes -----------------------------------------------------------------------------------------
    def _enqueue_change(self, conn: sqlite3.Connection, org_id: str, spans: list[SpanRecord],
                        before: sqlite3.Row | None) -> None:
        sessions = [s.session_id for s in spans] + ([before["session_id"]] if before else [])
        tasks = [s.links.task_id for s in spans] + ([before["task_id"]] if before else [])
        traces = [s.trace_id for s in spans] + ([before["trace_id"]] if before else [])
        keys = [(s.trace_id, s.span_id) for s in spans] + ([(before["trace_id"], before["span_id"])] if before else [])
        payload = span_change_payload(org_id, traces, sessions, tasks, max(len(spans), 1), keys)
        insert_outbox(conn, [(TELEMETRY_INGESTED, payload)])
        for s in spans:  # an API span of a session makes the session known, as ingest does
            if s.session_id:
                conn.execute(_SEE_SESSION, (org_id, s.session_id, s.start_ns, max(s.end_ns, s.start_ns),
                                            s.service_name, s.source_type, s.workspace or None,
                                            json.dumps([s.usage.model] if s.usage.model else [])))

    def span_records(self, org_id: str, keys: list[tuple[str, str]]) -> list[SpanRecord]:
        conn = self._reader()
        return [span_record_of(dict(zip(row.keys(), row, strict=True))) for trace_id, span_id in keys
                if (row := self._stored(conn, org_id, trace_id, span_id)) is not None]

    @staticmethod
    def _stored(conn: sqlite3.Connection, org_id: str, trace_id: str, span_id: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = conn.execute(
            f"SELECT {','.join(SPAN_COLUMNS)} FROM spans WHERE org_id = ? AND trace_id = ? AND span_id = ?",
            (org_id, trace_id, span_id)).fetchone()
        return row

    def create_span(self, org_id: str, span: SpanRecord) -> CreateOutcome:
        row = _row(org_id, span)
        with self.transaction() as conn:
            created = bool(conn.execute(_INSERT, row).rowcount)
            if created:
                self._enqueue_change(conn, org_id, [span], None)
                append_events(conn, org_id, events.span_created(
                    span, task_workspace(conn, org_id, span.links.task_id)))
            else:
                stored = self._stored(conn, org_id, span.trace_id, span.span_id)
                return "replayed" if stored is not None and tuple(stored) == row else "conflict"
        # An API span is findable by id as soon as it is created (the worker would index it moments later).
        self.index_span_ids(org_id, [span.trace_id])
        return "created"

    def replace_span(self, org_id: str, span: SpanRecord) -> bool:
        row = _row(org_id, span)
        with self.transaction() as conn:
            before = self._stored(conn, org_id, span.trace_id, span.span_id)
            if before is None:
                return False
            conn.execute(_UPDATE, (*row[3:], org_id, span.trace_id, span.span_id))
            self._enqueue_change(conn, org_id, [span], before)
            append_events(conn, org_id, events.span_updated(
                span, task_workspace(conn, org_id, span.links.task_id), "updated"))
            return True

    def delete_span(self, org_id: str, trace_id: str, span_id: str) -> bool:
        with self.transaction() as conn:
            before = self._stored(conn, org_id, trace_id, span_id)
            if before is None:
                return False
            conn.execute("DELETE FROM spans WHERE org_id = ? AND trace_id = ? AND span_id = ?",
                         (org_id, trace_id, span_id))
            self._enqueue_change(conn, org_id, [], before)
            append_events(conn, org_id, events.span_row_updated(
                before, task_workspace(conn, org_id, before["task_id"]), "deleted"))
            return True

    def append_span_event(self, org_id: str, trace_id: str, span_id: str, event: dict[str, Any]) -> int | None:
        with self.transaction() as conn:
            before = self._stored(conn, org_id, trace_id, span_id)
            if before is None:
                return None
            stored = json.loads(before["events"]) if before["events"] else []
            stored.append(event)
            conn.execute("UPDATE spans SET events = ? WHERE org_id = ? AND trace_id = ? AND span_id = ?",
                         (json.dumps(stored, separators=(",", ":")), org_id, trace_id, span_id))
            self._enqueue_change(conn, org_id, [], before)
            append_events(conn, org_id, events.span_row_updated(
                before, task_workspace(conn, org_id, before["task_id"]), "event_added"))
            return len(stored)

    # -- span reads ------------------------------------------------------------------------------------------
    def _spans(self, sql: str, params: tuple[Any, ...], lite: bool = True) -> list[SpanView]:
        from core.adapters.sqlite.reads import FULL_COLUMNS, LITE_COLUMNS, span_view

        columns = LITE_COLUMNS if lite else FULL_COLUMNS
        return [span_view(r, lite) for r in self._reader().execute(sql.format(columns=columns), params)]

    def find_span(self, org_id: str, span_id: str) -> SpanView | None:
        sql = ("SELECT {columns} FROM spans WHERE org_id = ? AND (trace_id, span_id) IN "
               "(SELECT trace_id, span_id FROM ids.span_ids WHERE org_id = ? AND span_id = ?) "
               "ORDER BY start_ns DESC LIMIT 1")
        found = self._spans(sql, (org_id, org_id, span_id), lite=False)
        if not found and self._index_pending_span_ids():  # the span's trace may still be queued
            found = self._spans(sql, (org_id, org_id, span_id), lite=False)
        return found[0] if found else None

    def index_span_ids(self, org_id: str, trace_ids: list[str]) -> None:
        """Queue the traces (one append); index every queued trace once INDEX_PENDING_TRACES are queued."""
        if not trace_ids:
            return
        with self.lookup_transaction() as conn:
            conn.executemany("INSERT INTO ids.span_traces_pending (org_id, trace_id) VALUES (?, ?)",
                             [(org_id, t) for t in trace_ids])
            queued = conn.execute("SELECT count(*) FROM ids.span_traces_pending").fetchone()[0]
            if queued >= INDEX_PENDING_TRACES:
                _index_pending(conn)

    def _index_pending_span_ids(self) -> bool:
        """Index the spans of every queued trace in one commit; False when none was queued."""
        with self.lookup_transaction() as conn:
            return _index_pending(conn)

    def list_spans_lite(self, org_id: str, q: SpanQuery) -> list[SpanView]:
        from core.adapters.sqlite import reads

        return reads.list_spans(self._reader(), org_id, q, lite=True)

    def spans_of_traces(self, org_id: str, trace_ids: list[str]) -> list[SpanView]:
        out: list[SpanView] = []
        ids = sorted(set(trace_ids))
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            out += self._spans(f"SELECT {{columns}} FROM spans WHERE org_id = ? AND trace_id IN ({_marks(chunk)})",
                               (org_id, *chunk))
        out.sort(key=lambda s: (s.start_time, s.id))
        return out

    def task_spans(self, org_id: str, task_id: str, limit: int = 10_000) -> list[SpanView]:
        return self._spans("SELECT {columns} FROM spans WHERE org_id = ? AND task_id = ? ORDER BY start_ns LIMIT ?",
                           (org_id, task_id, limit))

    def session_spans(self, org_id: str, session_id: str, limit: int = 10_000) -> list[SpanView]:
        return self._spans("SELECT {columns} FROM spans WHERE org_id = ? AND session_id = ? "
                           "ORDER BY start_ns LIMIT ?", (org_id, session_id, limit))

    def exec_spans(self, org_id: str, names: list[str], limit: int) -> list[SpanView]:
        if not names:
            return []
        return self._spans(f"SELECT {{columns}} FROM spans WHERE org_id = ? AND {_name_is_any(names)} "
                           "ORDER BY start_ns DESC LIMIT ?", (org_id, min(limit, _INT64)), lite=False)

    def task_span_summary(self, org_id: str, task_id: str, top: int = 10) -> TaskSpanSummary | None:
        from core.adapters.sqlite.reads import _dt
        from core.hierarchy.models import SpanNameCount, TaskSpanSummary

        conn = self._reader()
        r = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT trace_id), SUM(tokens_in), SUM(tokens_out), SUM(cost_usd), "
            "SUM(duration_ms), MIN(start_ns), MAX(MAX(end_ns, start_ns)) FROM spans INDEXED BY spans_task_start "
            "WHERE org_id = ? AND task_id = ?", (org_id, task_id)).fetchone()
        if not r[0]:
            return None
        names = conn.execute(
            "SELECT name, COUNT(*) AS n FROM spans INDEXED BY spans_task_start WHERE org_id = ? AND task_id = ? "
            "GROUP BY name "
            "ORDER BY n DESC, name LIMIT ?", (org_id, task_id, top)).fetchall()
        return TaskSpanSummary(
            task_id=task_id, span_count=r[0], trace_count=r[1], tokens_in=r[2] or 0, tokens_out=r[3] or 0,
            cost_usd=r[4] or 0.0, duration_ms=round(r[5] or 0), start_time=_dt(r[6]), end_time=_dt(r[7]),
            top_span_names=[SpanNameCount(name=n[0], count=n[1]) for n in names],
        )

    def task_sessions(self, org_id: str, task_id: str) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        conn = self._reader()
        for sid, assignment in conn.execute(  # no DISTINCT: the planner would walk another index for it
            "SELECT session_id, assignment_id FROM spans INDEXED BY spans_task_start WHERE org_id = ? "
            "AND task_id = ?", (org_id, task_id)
        ):
            if sid is not None:
                out[sid] = out.get(sid) or assignment
        for sid, assignment in conn.execute(
            "SELECT session_id, assignment_id FROM session_links WHERE org_id = ? AND task_id = ?", (org_id, task_id)
        ):
            out[sid] = out.get(sid) or assignment
        return out

    # -- tool calls and sessions -----------------------------------------------------------------------------
    def tool_calls_of_spans(self, org_id: str, keys: list[tuple[str, str]], with_result: bool = False
                            ) -> dict[tuple[str, str], ToolCallView]:
        wanted = set(keys)
        columns = _TOOL_LITE + (", tool_result" if with_result else "")
        traces = sorted({t for t, _ in wanted})
        out: dict[tuple[str, str], ToolCallView] = {}
        for i in range(0, len(traces), 500):
            chunk = traces[i:i + 500]
            for r in self._reader().execute(
                f"SELECT {columns} FROM tool_calls WHERE org_id = ? AND trace_id IN ({_marks(chunk)}) "
                "AND span_id IS NOT NULL", (org_id, *chunk)
            ):
                key = (r["trace_id"], r["span_id"])
                if key in wanted:
                    out[key] = _tool_view(r)
        return out

    def session_has_unrecorded_calls(self, org_id: str, session_id: str) -> bool:
        row = self._reader().execute(
            "SELECT EXISTS (SELECT 1 FROM llm_calls INDEXED BY llm_calls_insights_session WHERE org_id = ? "
            "AND session_id = ? AND span_id IS NULL) OR EXISTS (SELECT 1 FROM tool_calls INDEXED BY "
            "tool_calls_insights_session WHERE org_id = ? AND session_id = ? AND span_id IS NULL)",
            (org_id, session_id, org_id, session_id)).fetchone()
        return bool(row[0])

    def session_tool_calls_lite(self, org_id: str, session_id: str) -> list[ToolCallView]:
        return [_tool_view(r) for r in self._reader().execute(
            f"SELECT {_TOOL_LITE} FROM tool_calls WHERE org_id = ? AND session_id = ? ORDER BY time_ns",
            (org_id, session_id))]

    def tool_call_near(self, org_id: str, session_id: str, tool_name: str, time_ns: int,
                       window_ns: int = 300 * 10**9) -> ToolCallView | None:
        r = self._reader().execute(
            "SELECT * FROM tool_calls WHERE org_id = ? AND session_id = ? AND tool_name = ? "
            "AND time_ns BETWEEN ? AND ? ORDER BY ABS(time_ns - ?) LIMIT 1",
            (org_id, session_id, tool_name, max(time_ns - window_ns, -_INT64), min(time_ns + window_ns, _INT64),
             time_ns)).fetchone()
        return _tool_view(r) if r else None

    def _first_prompt(self, conn: sqlite3.Connection, org_id: str, session_id: str) -> str | None:
        r = conn.execute(
            f"SELECT json_extract(attributes, '$.prompt') AS prompt, body FROM events WHERE org_id = ? "
            f"AND session_id = ? AND name IN ({_marks(_PROMPT_EVENTS)}) ORDER BY time_ns LIMIT 1",
            (org_id, session_id, *_PROMPT_EVENTS)).fetchone()
        if r is None:
            return None
        prompt = r["prompt"] if r["prompt"] is not None else r["body"]
        return None if prompt is None else str(prompt)

    def session_digests(self, org_id: str, session_ids: list[str]) -> dict[str, SessionDigest]:
        conn = self._reader()
        out: dict[str, SessionDigest] = {}
        for sid in sorted(set(session_ids)):
            n, thinking = conn.execute(
                "SELECT COUNT(*), COALESCE(MAX(reasoning_tokens > 0), 0) FROM llm_calls "
                "INDEXED BY llm_calls_insights_session WHERE org_id = ? AND session_id = ?", (org_id, sid)).fetchone()
            out[sid] = SessionDigest(self._first_prompt(conn, org_id, sid), bool(thinking), int(n))
        return out

    def activity_sessions(self, org_id: str, source: ActivitySource | None, workspace: str | None, limit: int,
                          offset: int) -> list[SessionActivity]:
        clauses = ["s.org_id = ?", "EXISTS (SELECT 1 FROM llm_calls c WHERE c.org_id = s.org_id "
                                   "AND c.session_id = s.session_id)"]
        params: list[Any] = [org_id]
        if source == "coordinator":
            clauses.append("(l.task_id IS NOT NULL OR l.assignment_id IS NOT NULL)")
        elif source == "user_session":
            clauses.append("l.task_id IS NULL AND l.assignment_id IS NULL")
        elif source is not None:
            clauses.append("s.source_type = ?")
            params.append(source)
        if workspace:
            if workspace in ("unknown", "No Workspace"):
                clauses.append("COALESCE(s.workspace, '') IN ('', 'unknown')")
            elif workspace == "coordinator_worktrees":
                clauses.append("s.workspace LIKE '%/worktrees/%'")
            else:
                clauses.append("(s.workspace = ? OR instr(s.workspace, ?) > 0)")
                params += [workspace, workspace]
        conn = self._reader()
        rows = conn.execute(
            f"""SELECT s.session_id, s.source_type, s.service_name, s.workspace, s.first_seen_ns, s.last_seen_ns,
                       s.models, l.task_id, l.assignment_id
                FROM sessions s LEFT JOIN session_links l ON l.org_id = s.org_id AND l.session_id = s.session_id
                WHERE {' AND '.join(clauses)} ORDER BY s.last_seen_ns DESC, s.session_id LIMIT ? OFFSET ?""",
            (*params, limit, min(offset, _INT64))).fetchall()
        out = []
        for r in rows:
            a = SessionActivity(session_id=r["session_id"], source_type=r["source_type"],
                                service_name=r["service_name"], workspace=r["workspace"],
                                first_seen_ns=r["first_seen_ns"], last_seen_ns=r["last_seen_ns"],
                                task_id=r["task_id"], assignment_id=r["assignment_id"],
                                models=json.loads(r["models"] or "[]"))
            # Named indexes: the planner prefers scanning a covering index of the whole org for these sums.
            t = conn.execute(
                "SELECT COUNT(*), SUM(cost_usd), SUM(tokens_in), SUM(tokens_out), SUM(duration_ms) "
                "FROM llm_calls INDEXED BY llm_calls_insights_session WHERE org_id = ? AND session_id = ?",
                (org_id, a.session_id)).fetchone()
            a.turn_count, a.cost_usd, a.tokens_in, a.tokens_out = t[0], t[1] or 0.0, t[2] or 0, t[3] or 0
            a.llm_duration_ms = t[4] or 0.0
            m = conn.execute(
                "SELECT model, provider FROM llm_calls INDEXED BY llm_calls_insights_session WHERE org_id = ? "
                "AND session_id = ? AND model IS NOT NULL ORDER BY time_ns DESC LIMIT 1", (org_id, a.session_id)
            ).fetchone()
            if m is not None:
                a.model, a.provider = m["model"], m["provider"]
            a.first_prompt = self._first_prompt(conn, org_id, a.session_id)
            out.append(a)
        return out
