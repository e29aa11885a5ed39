"""Read queries of the SQLite store, rendered into the API's pydantic views."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

from core.hierarchy.names import path_span_id
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


def _dt(ns: int | None) -> datetime | None:
    return datetime.fromtimestamp(ns / 1e9, UTC) if ns else None


_INT64 = 2**63 - 1


def _ns(value: datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return max(-_INT64, min(int(value.timestamp() * 1e9), _INT64))  # SQLite integers are 64-bit


def _page(n: int) -> int:
    """A limit or offset as SQLite can bind it (an offset past every row reads nothing either way)."""
    return min(n, _INT64)


# Every span column except the attribute blobs: list views that do not return attributes read only these.
LITE_COLUMNS = (
    "trace_id, span_id, parent_span_id, task_id, assignment_id, chain_id, stage_id, message_id, session_id, name, "
    "kind, status, status_message, start_ns, end_ns, duration_ms, tokens_in, tokens_out, cache_read_tokens, "
    "cache_creation_tokens, reasoning_tokens, cost_usd, provided_cost_usd, computed_cost_usd, cache_savings_usd, "
    "unpriced, model, provider, source_type, workspace"
)
FULL_COLUMNS = LITE_COLUMNS + ", attributes, resource_attributes, events"
_EPOCH = datetime.fromtimestamp(0, UTC)


def span_view(r: sqlite3.Row, lite: bool = False) -> SpanView:
    """A SpanView of a row selected with FULL_COLUMNS (or LITE_COLUMNS with ``lite``: blobs left empty)."""
    return SpanView(
        id=r["span_id"], trace_id=r["trace_id"], parent_span_id=r["parent_span_id"], task_id=r["task_id"],
        agent_assignment_id=r["assignment_id"], chain_id=r["chain_id"], stage_id=r["stage_id"],
        message_id=r["message_id"], session_id=r["session_id"], name=r["name"], kind=r["kind"],
        status=r["status"], status_message=r["status_message"], start_time=_dt(r["start_ns"]) or _EPOCH,
        end_time=_dt(r["end_ns"]), duration_ms=r["duration_ms"], tokens_in=r["tokens_in"],
        tokens_out=r["tokens_out"], cache_read_tokens=r["cache_read_tokens"],
        cache_creation_tokens=r["cache_creation_tokens"], reasoning_tokens=r["reasoning_tokens"],
        cost_usd=r["cost_usd"], provided_cost_usd=r["provided_cost_usd"], computed_cost_usd=r["computed_cost_usd"],
        cache_savings_usd=r["cache_savings_usd"], unpriced=bool(r["unpriced"]), model=r["model"],
        provider=r["provider"], source_type=r["source_type"], workspace=r["workspace"] or "unknown",
        attributes={} if lite else json.loads(r["attributes"]),
        resource_attributes={} if lite else json.loads(r["resource_attributes"]),
        events=[] if lite or not r["events"] else json.loads(r["events"]),
    )


def _where(org_id: str, filters: list[tuple[str, Any]]) -> tuple[str, list[Any]]:
    clauses = ["org_id = ?"]
    params: list[Any] = [org_id]
    for clause, value in filters:
        if value is not None:
            clauses.append(clause)
            params.append(value)
    return " AND ".join(clauses), params


def _marks(items: list[Any]) -> str:
    return ",".join("?" * len(items))


# A trace is listed at the start of its first span. Walking spans newest first and keeping only each trace's
# first span (one probe of spans_trace_start) yields traces in that order without grouping the whole table.
_FIRST_OF_TRACE = """(s.start_ns, s.span_id) = (SELECT f.start_ns, f.span_id FROM spans f
    WHERE f.org_id = s.org_id AND f.trace_id = s.trace_id ORDER BY f.start_ns, f.span_id LIMIT 1)"""


def _trace_page(conn: sqlite3.Connection, org_id: str, q: TraceQuery) -> list[str]:
    """Trace ids of one page, newest first by trace start, under the query's filters."""
    t_from, t_to = _ns(q.start_time), _ns(q.end_time)
    if q.trace_id is None and q.session_id is None and q.task_id is None:
        where, params = _where(org_id, [("s.start_ns >= ?", t_from), ("s.start_ns <= ?", t_to)])
        rows = conn.execute(
            f"SELECT s.trace_id FROM spans s INDEXED BY spans_start WHERE s.{where} AND {_FIRST_OF_TRACE} "
            "ORDER BY s.start_ns DESC LIMIT ? OFFSET ?",
            (*params, q.limit, _page(q.offset)),
        ).fetchall()
        return [r[0] for r in rows]
    # A filter names few traces: find them through their index, then order by each trace's first span.
    candidates: set[str] | None = {path_span_id(q.trace_id)} if q.trace_id is not None else None
    for column, index, value in (("session_id", "spans_session", q.session_id),
                                 ("task_id", "spans_task_start", q.task_id)):
        if value is None:
            continue
        # Named index, no DISTINCT: left to itself the planner walks a whole covering index for the DISTINCT.
        found = {r[0] for r in conn.execute(
            f"SELECT trace_id FROM spans INDEXED BY {index} WHERE org_id = ? AND {column} = ?", (org_id, value))}
        candidates = found if candidates is None else candidates & found
    ids = sorted(candidates or ())
    starts: list[tuple[int, str]] = []
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        starts += [(r[1], r[0]) for r in conn.execute(
            f"SELECT trace_id, MIN(start_ns) FROM spans INDEXED BY spans_trace_start WHERE org_id = ? "
            f"AND trace_id IN ({_marks(chunk)}) GROUP BY trace_id", (org_id, *chunk))]
    starts = [(s, t) for s, t in starts
              if (t_from is None or s >= t_from) and (t_to is None or s <= t_to)]
    starts.sort(reverse=True)
    return [t for _, t in starts[q.offset:q.offset + q.limit]]


def list_traces(conn: sqlite3.Connection, org_id: str, q: TraceQuery) -> list[TraceSummary]:
    page = _trace_page(conn, org_id, q)
    if not page:
        return []
    marks = _marks(page)
    aggregates = {r["trace_id"]: r for r in conn.execute(
        f"""SELECT trace_id, COUNT(*) AS n, MIN(start_ns) AS s, MAX(end_ns) AS e,
                   SUM(tokens_in) AS ti, SUM(tokens_out) AS t_o, SUM(cost_usd) AS c,
                   MAX(status = 'error') AS err, MAX(session_id) AS sid, MAX(task_id) AS tid,
                   MAX(service_name) AS svc, MAX(source_type) AS src
            FROM spans INDEXED BY spans_trace_start WHERE org_id = ? AND trace_id IN ({marks})
            GROUP BY trace_id""", (org_id, *page))}
    roots: dict[str, sqlite3.Row] = {}
    for r in conn.execute(
        f"SELECT trace_id, name, source_type FROM spans INDEXED BY spans_trace_start WHERE org_id = ? "
        f"AND trace_id IN ({marks}) AND parent_span_id IS NULL ORDER BY +start_ns", (org_id, *page)
    ):
        roots.setdefault(r["trace_id"], r)
    out = []
    for trace_id in page:
        r = aggregates[trace_id]
        root = roots.get(trace_id) or conn.execute(
            "SELECT name, source_type FROM spans WHERE org_id = ? AND trace_id = ? ORDER BY start_ns LIMIT 1",
            (org_id, trace_id)).fetchone()
        out.append(TraceSummary(
            trace_id=trace_id, root_span_name=root["name"] if root else None, service_name=r["svc"],
            source_type=root["source_type"] if root else r["src"], status="error" if r["err"] else "ok",
            span_count=r["n"], start_time=_dt(r["s"]) or _EPOCH, end_time=_dt(r["e"]),
            duration_ms=max((r["e"] or r["s"]) - r["s"], 0) / 1e6, tokens_in=r["ti"] or 0,
            tokens_out=r["t_o"] or 0, cost_usd=r["c"] or 0.0, session_id=r["sid"], task_id=r["tid"],
        ))
    return out


def get_trace(conn: sqlite3.Connection, org_id: str, trace_id: str) -> list[SpanView]:
    rows = conn.execute(
        f"SELECT {FULL_COLUMNS} FROM spans WHERE org_id = ? AND trace_id = ? ORDER BY start_ns, span_id",
        (org_id, trace_id),
    ).fetchall()
    return [span_view(r) for r in rows]


def span_filters(org_id: str, q: SpanQuery) -> tuple[str, list[Any]]:
    """The WHERE clause of a span list query (every seed filter plus session_id)."""
    return _where(org_id, [
        ("task_id = ?", q.task_id),
        ("trace_id = ?", path_span_id(q.trace_id) if q.trace_id else None),
        ("assignment_id = ?", q.agent_assignment_id),
        ("session_id = ?", q.session_id),
        ("provider = ?", q.provider),
        ("model = ?", q.model),
        ("status = ?", q.status),
        ("COALESCE(workspace, 'unknown') = ?", q.workspace),
        ("start_ns >= ?", _ns(q.start_after)),
        ("start_ns <= ?", _ns(q.start_before)),
    ])


def list_spans(conn: sqlite3.Connection, org_id: str, q: SpanQuery, lite: bool = False) -> list[SpanView]:
    where, params = span_filters(org_id, q)
    # An assignment's spans are found through its own index and sorted; walking every span of the org in time
    # order (which the planner prefers, to avoid the sort) would visit all of them for a small assignment.
    by_assignment = q.agent_assignment_id is not None and not (q.trace_id or q.task_id or q.session_id or q.model)
    order = "+start_ns DESC" if by_assignment else "start_ns DESC"
    rows = conn.execute(
        f"SELECT {LITE_COLUMNS if lite else FULL_COLUMNS} FROM spans WHERE {where} "
        f"ORDER BY {order} LIMIT ? OFFSET ?", (*params, q.limit, _page(q.offset))
    ).fetchall()
    return [span_view(r, lite) for r in rows]


def _session(r: sqlite3.Row) -> SessionView:
    return SessionView(
        session_id=r["session_id"], source_type=r["source_type"], service_name=r["service_name"],
        workspace=r["workspace"] or "unknown", user_id=r["user_id"], user_email=r["user_email"],
        organization_id=r["account_org"], app_version=r["app_version"], terminal_type=r["terminal_type"],
        models=json.loads(r["models"]), started_at=_dt(r["first_seen_ns"]), last_seen_at=_dt(r["last_seen_ns"]),
        ended_at=_dt(r["ended_ns"]) if r["ended_ns"] else None, end_reason=r["end_reason"],
        transcript_path=r["transcript_path"], summary=json.loads(r["rollup"]) if r["rollup"] else None,
    )


def list_sessions(conn: sqlite3.Connection, org_id: str, limit: int, offset: int) -> list[SessionView]:
    rows = conn.execute(
        "SELECT * FROM sessions WHERE org_id = ? ORDER BY last_seen_ns DESC LIMIT ? OFFSET ?",
        (org_id, limit, offset),
    ).fetchall()
    return [_session(r) for r in rows]


def get_session(conn: sqlite3.Connection, org_id: str, session_id: str) -> SessionView | None:
    row = conn.execute(
        "SELECT * FROM sessions WHERE org_id = ? AND session_id = ?", (org_id, session_id)
    ).fetchone()
    return _session(row) if row else None


def session_tool_calls(conn: sqlite3.Connection, org_id: str, session_id: str) -> list[ToolCallView]:
    rows = conn.execute(
        "SELECT * FROM tool_calls WHERE org_id = ? AND session_id = ? ORDER BY time_ns", (org_id, session_id)
    ).fetchall()
    return [
        ToolCallView(
            tool_use_id=r["tool_use_id"], session_id=r["session_id"], tool_name=r["tool_name"],
            start_time=_dt(r["time_ns"]), duration_ms=r["duration_ms"],
            success=None if r["success"] is None else bool(r["success"]), error=r["error"],
            decision=r["decision"], decision_source=r["decision_source"], approval_wait_ms=r["approval_wait_ms"],
            tool_input=r["tool_input"], tool_response=r["tool_result"], trace_id=r["trace_id"],
            span_id=r["span_id"],
        )
        for r in rows
    ]


def session_llm_calls(conn: sqlite3.Connection, org_id: str, session_id: str) -> list[LlmCallView]:
    rows = conn.execute(
        "SELECT * FROM llm_calls WHERE org_id = ? AND session_id = ? ORDER BY time_ns", (org_id, session_id)
    ).fetchall()
    return [
        LlmCallView(
            call_key=r["call_key"], session_id=r["session_id"], time=_dt(r["time_ns"]) or datetime.now(UTC),
            duration_ms=r["duration_ms"], model=r["model"], provider=r["provider"], tokens_in=r["tokens_in"],
            tokens_out=r["tokens_out"], cache_read_tokens=r["cache_read_tokens"],
            cache_creation_tokens=r["cache_creation_tokens"], reasoning_tokens=r["reasoning_tokens"],
            cost_usd=r["cost_usd"], provided_cost_usd=r["provided_cost_usd"],
            computed_cost_usd=r["computed_cost_usd"], cache_savings_usd=r["cache_savings_usd"],
            unpriced=bool(r["unpriced"]), request_id=r["request_id"], response_id=r["response_id"],
            trace_id=r["trace_id"], span_id=r["span_id"], success=bool(r["success"]), source=r["source"],
        )
        for r in rows
    ]


def session_events(
    conn: sqlite3.Connection, org_id: str, session_id: str, names: list[str] | None
) -> list[EventView]:
    sql = "SELECT * FROM events WHERE org_id = ? AND session_id = ?"
    params: list[Any] = [org_id, session_id]
    if names:
        sql += f" AND name IN ({','.join('?' * len(names))})"
        params += names
    rows = conn.execute(sql + " ORDER BY time_ns", params).fetchall()
    return [
        EventView(event_key=r["event_key"], name=r["name"], time=_dt(r["time_ns"]) or datetime.now(UTC),
                  session_id=r["session_id"], prompt_id=r["prompt_id"], severity=r["severity"], body=r["body"],
                  attributes=json.loads(r["attributes"]))
        for r in rows
    ]


def list_metric_points(conn: sqlite3.Connection, org_id: str, q: MetricQuery) -> list[MetricPointView]:
    where, params = _where(org_id, [
        ("session_id = ?", q.session_id),
        ("name = ?", q.name),
        ("json_extract(resource_attributes, '$.\"process.cwd\"') = ?", q.workspace),
        ("time_ns >= ?", _ns(q.since)),
        ("time_ns <= ?", _ns(q.until)),
    ])
    rows = conn.execute(
        f"SELECT * FROM metric_points WHERE {where} ORDER BY time_ns DESC LIMIT ? OFFSET ?",
        (*params, q.limit, q.offset),
    ).fetchall()
    return [
        MetricPointView(
            name=r["name"], metric_type=r["metric_type"], temporality=r["temporality"], series_key=r["series_key"],
            session_id=r["session_id"], model=r["model"], label_type=r["label_type"],
            start_time=_dt(r["start_ns"]), timestamp=_dt(r["time_ns"]) or datetime.now(UTC), value=r["value"],
            labels=json.loads(r["attributes"]), resource_attributes=json.loads(r["resource_attributes"]),
        )
        for r in rows
    ]
