"""SqliteStore: the Store port on one SQLite file (WAL, one writer at a time, readers per thread)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from core import events
from core.adapters.sqlite.catalog import SqliteCatalog
from core.adapters.sqlite.chains import SqliteChains
from core.adapters.sqlite.erasure import SqliteErasure
from core.adapters.sqlite.event_log import SqliteEventLog, append_events, task_workspace
from core.adapters.sqlite.hooks import SqliteHooks
from core.adapters.sqlite.insights import SqliteInsights
from core.adapters.sqlite.maintenance import SqliteMaintenance
from core.adapters.sqlite.outbox_rows import insert_outbox, unpack
from core.adapters.sqlite.schema import SPAN_COLUMNS
from core.adapters.sqlite.span_views import SqliteSpanViews
from core.errors import StorageUnavailable
from core.ports.store import IngestUnitOfWork, OutboxMessage, SessionLink, SessionRollup, Store
from core.records import Batch, LlmCallRecord, Usage

if TYPE_CHECKING:
    from core.models import (
        EventView,
        LlmCallView,
        MetricPointView,
        MetricQuery,
        SessionView,
        SpanQuery,
        SpanView,
        ToolCallView,
        TraceQuery,
        TraceSummary,
    )
    from core.session_facts import SessionFacts

ROLLUPS_PER_WRITE = 16
_SPAN_KEEP_LINKS = ("task_id", "assignment_id", "chain_id", "stage_id", "message_id", "workspace")
_UPSERT_SPANS = (
    f"INSERT INTO spans ({','.join(SPAN_COLUMNS)}) VALUES ({','.join('?' * len(SPAN_COLUMNS))}) "
    "ON CONFLICT(org_id, trace_id, span_id) DO UPDATE SET "
    + ",".join(
        f"{c}=COALESCE(excluded.{c}, spans.{c})" if c in _SPAN_KEEP_LINKS else f"{c}=excluded.{c}"
        for c in SPAN_COLUMNS[3:]
    )
)
_CALL_COLS = (
    "org_id", "call_key", "session_id", "time_ns", "duration_ms", "model", "provider", "tokens_in", "tokens_out",
    "cache_read_tokens", "cache_creation_tokens", "reasoning_tokens", "provided_cost_usd", "computed_cost_usd",
    "cost_usd", "cache_savings_usd", "unpriced", "request_id", "response_id", "trace_id", "span_id", "event_key",
    "prompt_id", "success", "source", "task_id", "assignment_id", "chain_id", "stage_id",
)
_UPSERT_CALLS = (
    f"INSERT INTO llm_calls ({','.join(_CALL_COLS)}) VALUES ({','.join('?' * len(_CALL_COLS))}) "
    "ON CONFLICT(org_id, call_key) DO UPDATE SET " + ",".join(f"{c}=excluded.{c}" for c in _CALL_COLS[2:])
)
_TOOL_COLS = (
    "org_id", "tool_use_id", "session_id", "tool_name", "time_ns", "duration_ms", "success", "error", "decision",
    "decision_source", "approval_wait_ms", "tool_input", "tool_result", "trace_id", "span_id",
)
# Several sources fill different fields of one tool call: a field is only ever filled, never cleared.
_UPSERT_TOOLS = (
    f"INSERT INTO tool_calls ({','.join(_TOOL_COLS)}) VALUES ({','.join('?' * len(_TOOL_COLS))}) "
    "ON CONFLICT(org_id, tool_use_id) DO UPDATE SET "
    + ",".join("time_ns=MIN(COALESCE(tool_calls.time_ns, excluded.time_ns), COALESCE(excluded.time_ns, "
               "tool_calls.time_ns))" if c == "time_ns"  # the start: hooks see it before the result event
               else f"{c}=COALESCE(excluded.{c}, tool_calls.{c})" for c in _TOOL_COLS[2:])
)
_INSERT_EVENTS = (
    "INSERT OR IGNORE INTO events (org_id, event_key, name, dialect, time_ns, session_id, prompt_id, trace_id, "
    "span_id, severity, body, attributes, resource_attributes) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
_UPSERT_POINTS = (
    "INSERT INTO metric_points (org_id, series_key, start_ns, time_ns, name, metric_type, temporality, value, "
    "session_id, model, label_type, attributes, resource_attributes) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
    "ON CONFLICT(org_id, series_key, start_ns, time_ns) DO UPDATE SET value=excluded.value"
)
_UPSERT_SESSIONS = """
INSERT INTO sessions (org_id, session_id, first_seen_ns, last_seen_ns, service_name, source_type, workspace,
    user_id, user_email, account_org, app_version, terminal_type, models)
VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)
ON CONFLICT(org_id, session_id) DO UPDATE SET
    first_seen_ns = MIN(sessions.first_seen_ns, excluded.first_seen_ns),
    last_seen_ns = MAX(sessions.last_seen_ns, excluded.last_seen_ns),
    service_name = COALESCE(sessions.service_name, excluded.service_name),
    source_type = CASE WHEN sessions.source_type = 'other' THEN excluded.source_type ELSE sessions.source_type END,
    workspace = COALESCE(sessions.workspace, excluded.workspace),
    user_id = COALESCE(sessions.user_id, excluded.user_id),
    user_email = COALESCE(sessions.user_email, excluded.user_email),
    account_org = COALESCE(sessions.account_org, excluded.account_org),
    app_version = COALESCE(sessions.app_version, excluded.app_version),
    terminal_type = COALESCE(sessions.terminal_type, excluded.terminal_type),
    models = (SELECT json_group_array(value) FROM (
        SELECT value FROM json_each(sessions.models) UNION SELECT value FROM json_each(excluded.models)
        ORDER BY value))
"""


def _none_if_empty(value: str) -> str | None:
    return value or None


class _SqliteUnitOfWork(IngestUnitOfWork):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def llm_calls_by_ids(self, org_id: str, ids: list[str]) -> list[LlmCallRecord]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self._conn.execute(
            f"SELECT * FROM llm_calls WHERE org_id = ? AND (request_id IN ({marks}) OR response_id IN ({marks}))",
            (org_id, *ids, *ids),
        ).fetchall()
        return [_call_from_row(r) for r in rows]

    def llm_call_candidates(
        self, org_id: str, session_id: str, t_from: int, t_to: int, tokens_out: list[int]
    ) -> list[LlmCallRecord]:
        outs = sorted(set(tokens_out))[:500]
        rows = self._conn.execute(
            "SELECT * FROM llm_calls WHERE org_id = ? AND session_id = ? AND time_ns BETWEEN ? AND ? "
            f"AND tokens_out IN ({','.join('?' * len(outs))})",
            (org_id, session_id, t_from, t_to, *outs),
        ).fetchall()
        return [_call_from_row(r) for r in rows]

    def session_links(self, org_id: str, session_ids: list[str]) -> dict[str, SessionLink]:
        out: dict[str, SessionLink] = {}
        for chunk in _chunks(session_ids):
            marks = ",".join("?" * len(chunk))
            for sid, task, assignment in self._conn.execute(
                f"SELECT session_id, task_id, assignment_id FROM session_links "
                f"WHERE org_id = ? AND session_id IN ({marks})", (org_id, *chunk)
            ):
                out[sid] = SessionLink(task, assignment)
        return out

    def session_workspaces(self, org_id: str, session_ids: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for chunk in _chunks(session_ids):
            marks = ",".join("?" * len(chunk))
            for sid, workspace in self._conn.execute(
                f"SELECT session_id, workspace FROM sessions WHERE org_id = ? AND session_id IN ({marks}) "
                "AND workspace IS NOT NULL", (org_id, *chunk)
            ):
                out[sid] = workspace
        return out

    def tool_use_ids_for_spans(self, org_id: str, keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        out: dict[tuple[str, str], str] = {}
        for trace_id, span_id in keys:
            row = self._conn.execute(
                "SELECT tool_use_id FROM tool_calls WHERE org_id = ? AND trace_id = ? AND span_id = ? "
                "AND tool_use_id NOT LIKE 'span:%'", (org_id, trace_id, span_id)
            ).fetchone()
            if row:
                out[(trace_id, span_id)] = row[0]
        return out

    def adopt_tool_placeholders(self, org_id: str, real_ids: dict[str, str]) -> None:
        for chunk in _chunks(list(real_ids)):
            rows = self._conn.execute(
                f"SELECT * FROM tool_calls WHERE org_id = ? AND tool_use_id IN ({','.join('?' * len(chunk))})",
                (org_id, *chunk),
            ).fetchall()
            for row in rows:
                values = [row[c] for c in _TOOL_COLS]
                values[1] = real_ids[row["tool_use_id"]]
                self._conn.execute(_UPSERT_TOOLS, values)
                self._conn.execute("DELETE FROM tool_calls WHERE org_id = ? AND tool_use_id = ?",
                                   (org_id, row["tool_use_id"]))

    def link_session_to_task(self, org_id: str, session_id: str, link: SessionLink) -> int:
        self._conn.execute(
            "INSERT INTO session_links VALUES (?,?,?,?) ON CONFLICT(org_id, session_id) DO UPDATE SET "
            "task_id = excluded.task_id, assignment_id = COALESCE(excluded.assignment_id, session_links.assignment_id)",
            (org_id, session_id, link.task_id, link.assignment_id),
        )
        cur = self._conn.execute(
            "UPDATE spans SET task_id = ?, assignment_id = COALESCE(assignment_id, ?) "
            "WHERE org_id = ? AND session_id = ? AND task_id IS NULL",
            (link.task_id, link.assignment_id, org_id, session_id),
        )
        return cur.rowcount

    def write(self, batch: Batch, request_digest: str, outbox: list[tuple[str, bytes]]) -> None:
        org = batch.org_id
        conn = self._conn
        if batch.spans:
            conn.executemany(_UPSERT_SPANS, [
                (org, s.trace_id, s.span_id, s.parent_span_id, s.name, s.kind, s.status, s.status_message,
                 s.start_ns, s.end_ns, s.duration_ms, s.session_id, s.service_name, s.source_type,
                 _none_if_empty(s.workspace), s.usage.model, s.usage.provider, s.usage.tokens_in, s.usage.tokens_out,
                 s.usage.cache_read_tokens, s.usage.cache_creation_tokens, s.usage.reasoning_tokens,
                 s.usage.provided_cost_usd, s.usage.computed_cost_usd, s.usage.cost_usd, s.usage.cache_savings_usd,
                 s.usage.unpriced, s.links.task_id, s.links.assignment_id, s.links.chain_id, s.links.stage_id,
                 s.links.message_id, s.attributes_json, s.resource_json, s.events_json)
                for s in batch.spans
            ])
        if batch.llm_calls:
            conn.executemany(_UPSERT_CALLS, [_call_row(org, c) for c in batch.llm_calls])
        if batch.tool_calls:
            conn.executemany(_UPSERT_TOOLS, [
                (org, t.tool_use_id, t.session_id, t.tool_name, t.time_ns, t.duration_ms, t.success, t.error,
                 t.decision, t.decision_source, t.approval_wait_ms, t.tool_input, t.tool_result, t.trace_id,
                 t.span_id)
                for t in batch.tool_calls
            ])
        if batch.events:
            conn.executemany(_INSERT_EVENTS, [
                (org, e.event_key, e.name, e.dialect, e.time_ns, e.session_id, e.prompt_id, e.trace_id, e.span_id,
                 e.severity, e.body, e.attributes_json, e.resource_json)
                for e in batch.events
            ])
        if batch.metric_points:
            conn.executemany(_UPSERT_POINTS, [
                (org, p.series_key, p.start_ns, p.time_ns, p.name, p.metric_type, p.temporality, p.value,
                 p.session_id, p.model, p.label_type, p.attributes_json, p.resource_json)
                for p in batch.metric_points
            ])
        if batch.sessions:
            conn.executemany(_UPSERT_SESSIONS, [
                (org, s.session_id, s.first_seen_ns, s.last_seen_ns, s.service_name, s.source_type, s.workspace,
                 s.user_id, s.user_email, s.account_org, s.app_version, s.terminal_type,
                 json.dumps(sorted(s.models)))
                for s in batch.sessions.values()
            ])
        if batch.redactions:
            conn.executemany("INSERT OR REPLACE INTO redactions VALUES (?,?,?,?)",
                             [(org, request_digest, k, n) for k, n in batch.redactions.items()])
        if batch.reject_reasons:
            conn.executemany("INSERT OR REPLACE INTO rejections VALUES (?,?,?,?)",
                             [(org, request_digest, k, n) for k, n in batch.reject_reasons.items()])
        if outbox:
            insert_outbox(conn, outbox)
        if batch.spans:  # one event per batch; a replayed request (same digest) appends nothing
            task_id = events.batch_task(batch)
            append_events(conn, org, events.batch_spans_created(batch, request_digest, task_id,
                                                                task_workspace(conn, org, task_id)),
                          dedup_key=f"{events.SPAN_CREATED}:{request_digest}")


def _chunks(items: list[str], size: int = 500) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _call_row(org: str, c: LlmCallRecord) -> tuple[Any, ...]:
    u = c.usage
    return (org, c.call_key, c.session_id, c.time_ns, c.duration_ms, u.model, u.provider, u.tokens_in, u.tokens_out,
            u.cache_read_tokens, u.cache_creation_tokens, u.reasoning_tokens, u.provided_cost_usd,
            u.computed_cost_usd, u.cost_usd, u.cache_savings_usd, u.unpriced, c.request_id, c.response_id,
            c.trace_id, c.span_id, c.event_key, c.prompt_id, c.success, c.source, c.links.task_id,
            c.links.assignment_id, c.links.chain_id, c.links.stage_id)


def _call_from_row(r: sqlite3.Row) -> LlmCallRecord:
    from core.records import Links

    return LlmCallRecord(
        call_key=r["call_key"], session_id=r["session_id"], time_ns=r["time_ns"], duration_ms=r["duration_ms"],
        usage=Usage(
            model=r["model"], provider=r["provider"], tokens_in=r["tokens_in"], tokens_out=r["tokens_out"],
            cache_read_tokens=r["cache_read_tokens"], cache_creation_tokens=r["cache_creation_tokens"],
            reasoning_tokens=r["reasoning_tokens"], provided_cost_usd=r["provided_cost_usd"],
            computed_cost_usd=r["computed_cost_usd"], cache_savings_usd=r["cache_savings_usd"],
            unpriced=bool(r["unpriced"]),
        ),
        request_id=r["request_id"], response_id=r["response_id"], trace_id=r["trace_id"], span_id=r["span_id"],
        event_key=r["event_key"], prompt_id=r["prompt_id"], success=bool(r["success"]), source=r["source"],
        links=Links(task_id=r["task_id"], assignment_id=r["assignment_id"], chain_id=r["chain_id"],
                    stage_id=r["stage_id"]),
    )


class SqliteStore(SqliteCatalog, SqliteInsights, SqliteSpanViews, SqliteErasure, SqliteChains, SqliteHooks,
                  SqliteEventLog, SqliteMaintenance, Store):
    """The Store port on one SQLite file; connections, locking and checkpoints live in SqliteBase, each API
    area's SQL in its own mixin module."""

    @contextmanager
    def unit_of_work(self) -> Iterator[IngestUnitOfWork]:
        try:
            with self.transaction() as conn:
                yield _SqliteUnitOfWork(conn)
        except sqlite3.IntegrityError as exc:
            raise StorageUnavailable(f"store cannot take the write: {exc}") from exc

    # -- reads (SQL in reads.py, imported lazily: it pulls pydantic models) -------------------------
    def list_traces(self, org_id: str, query: TraceQuery) -> list[TraceSummary]:
        from core.adapters.sqlite import reads

        return reads.list_traces(self._reader(), org_id, query)

    def get_trace(self, org_id: str, trace_id: str) -> list[SpanView]:
        from core.adapters.sqlite import reads

        return reads.get_trace(self._reader(), org_id, trace_id)

    def list_spans(self, org_id: str, query: SpanQuery) -> list[SpanView]:
        from core.adapters.sqlite import reads

        return reads.list_spans(self._reader(), org_id, query)

    def list_sessions(self, org_id: str, limit: int, offset: int) -> list[SessionView]:
        from core.adapters.sqlite import reads

        return reads.list_sessions(self._reader(), org_id, limit, offset)

    def get_session(self, org_id: str, session_id: str) -> SessionView | None:
        from core.adapters.sqlite import reads

        return reads.get_session(self._reader(), org_id, session_id)

    def session_tool_calls(self, org_id: str, session_id: str) -> list[ToolCallView]:
        from core.adapters.sqlite import reads

        return reads.session_tool_calls(self._reader(), org_id, session_id)

    def session_llm_calls(self, org_id: str, session_id: str) -> list[LlmCallView]:
        from core.adapters.sqlite import reads

        return reads.session_llm_calls(self._reader(), org_id, session_id)

    def session_events(self, org_id: str, session_id: str, names: list[str] | None = None) -> list[EventView]:
        from core.adapters.sqlite import reads

        return reads.session_events(self._reader(), org_id, session_id, names)

    def session_span_count(self, org_id: str, session_id: str) -> int:
        row = self._reader().execute(
            "SELECT COUNT(*) FROM spans WHERE org_id = ? AND session_id = ?", (org_id, session_id)
        ).fetchone()
        return int(row[0])

    def session_facts(self, org_id: str, session_id: str) -> SessionFacts | None:
        from core.adapters.sqlite.session_facts import session_facts

        return session_facts(self._reader(), org_id, session_id)

    def list_metric_points(self, org_id: str, query: MetricQuery) -> list[MetricPointView]:
        from core.adapters.sqlite import reads

        return reads.list_metric_points(self._reader(), org_id, query)

    def save_session_rollup(self, org_id: str, session_id: str, rollup_json: str, computed_ns: int) -> None:
        self.save_session_rollups([SessionRollup(org_id, session_id, rollup_json, computed_ns)])

    def save_session_rollups(self, rollups: Sequence[SessionRollup]) -> None:
        # A few sessions per write: one write for a whole delivery (~65 sessions under load) held the lock for
        # 3-5 ms every drain, and the ingest request that arrived meanwhile waited that long (the p99 of a
        # request); sixteen take under a millisecond and still share a commit.
        for i in range(0, len(rollups), ROLLUPS_PER_WRITE):
            self._save_rollups(rollups[i:i + ROLLUPS_PER_WRITE])

    def _save_rollups(self, rollups: Sequence[SessionRollup]) -> None:
        with self.transaction() as conn:
            for org_id, session_id, rollup_json, computed_ns in rollups:
                before = conn.execute("SELECT rollup FROM sessions WHERE org_id = ? AND session_id = ?",
                                      (org_id, session_id)).fetchone()
                # A recompute never overwrites a newer result with an older one.
                saved = conn.execute(
                    "UPDATE sessions SET rollup = ?, rollup_ns = ? WHERE org_id = ? AND session_id = ? "
                    "AND (rollup_ns IS NULL OR rollup_ns <= ?)",
                    (rollup_json, computed_ns, org_id, session_id, computed_ns),
                ).rowcount
                # metrics.updated only when the totals moved: a redelivered batch recomputes the same rollup.
                if saved and before is not None and before["rollup"] != rollup_json:
                    link = conn.execute("SELECT task_id FROM session_links WHERE org_id = ? AND session_id = ?",
                                        (org_id, session_id)).fetchone()
                    task_id = link["task_id"] if link is not None else None
                    append_events(conn, org_id, events.session_metrics_updated(
                        session_id, task_id, task_workspace(conn, org_id, task_id), json.loads(rollup_json)))

    # -- pricing -----------------------------------------------------------------------------------
    def iter_priced(self) -> Iterator[tuple[str, str, str, LlmCallRecord]]:
        conn = self._reader()
        for table, key_sql in (("llm_calls", "call_key"), ("spans", "trace_id || ':' || span_id")):
            for r in conn.execute(
                f"SELECT org_id, {key_sql} AS k, model, tokens_in, tokens_out, cache_read_tokens, "
                f"cache_creation_tokens, reasoning_tokens, provided_cost_usd FROM {table} WHERE model IS NOT NULL"
            ):
                usage = Usage(model=r["model"], tokens_in=r["tokens_in"], tokens_out=r["tokens_out"],
                              cache_read_tokens=r["cache_read_tokens"],
                              cache_creation_tokens=r["cache_creation_tokens"],
                              reasoning_tokens=r["reasoning_tokens"], provided_cost_usd=r["provided_cost_usd"])
                yield table, r["org_id"], r["k"], LlmCallRecord(call_key=r["k"], session_id=None, time_ns=0,
                                                                 duration_ms=None, usage=usage)

    def update_computed_costs(self, table: str, rows: list[tuple[str, str, LlmCallRecord]]) -> None:
        # Keys are the natural keys iter_priced yields; spans' "trace:span" splits onto its unique index.
        where = {"llm_calls": "call_key = ?", "spans": "trace_id = ? AND span_id = ?"}[table]
        with self.transaction() as conn:
            conn.executemany(
                f"UPDATE {table} SET computed_cost_usd = ?, cost_usd = ?, cache_savings_usd = ?, unpriced = ? "
                f"WHERE org_id = ? AND {where}",
                [(c.usage.computed_cost_usd, c.usage.cost_usd, c.usage.cache_savings_usd, c.usage.unpriced,
                  org, *(key.split(":", 1) if table == "spans" else (key,))) for org, key, c in rows],
            )

    # -- outbox ------------------------------------------------------------------------------------
    def enqueue_outbox(self, messages: list[tuple[str, bytes]]) -> None:
        with self.transaction() as conn:
            insert_outbox(conn, messages)

    def claim_outbox(self, limit: int) -> list[OutboxMessage]:
        rows = self._reader().execute(
            "SELECT id, topic, payload FROM outbox ORDER BY id LIMIT ?", (limit,)
        ).fetchall()
        return [OutboxMessage(r[0], r[1], unpack(bytes(r[2]))) for r in rows]

    def ack_outbox(self, ids: list[int]) -> None:
        if not ids:
            return
        with self.transaction() as conn:  # one commit for the delivery, not one per message
            # Builds with secure delete on (Debian's) would overwrite every freed page of the payloads with zeros:
            # a 100-message delivery's ack then held the write lock for up to 0.4 s, stalling ingest. A payload is
            # a transient copy of records the tables hold, so its pages are freed as upstream SQLite frees them;
            # every other delete (an erasure's too) keeps the build's setting.
            previous = int(conn.execute("PRAGMA secure_delete").fetchone()[0])
            conn.execute("PRAGMA secure_delete=OFF")
            try:
                conn.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])
            finally:
                conn.execute(f"PRAGMA secure_delete={previous}")

    def outbox_backlog(self) -> int:
        return int(self._reader().execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def last_write_ns(self) -> int | None:
        # Every commit appends to the write-ahead log (checkpoints only read it), so its modification time is
        # the last commit's, whichever process made it.
        try:
            return self.path.with_name(self.path.name + "-wal").stat().st_mtime_ns
        except OSError:
            return None
