"""Read queries of the SQLite store, rendered into the API's pydantic views."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

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


def _ns(value: datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1e9)


def _span(r: sqlite3.Row) -> SpanView:
    return SpanView(
        id=r["span_id"], trace_id=r["trace_id"], parent_span_id=r["parent_span_id"], task_id=r["task_id"],
        agent_assignment_id=r["assignment_id"], chain_id=r["chain_id"], stage_id=r["stage_id"],
        session_id=r["session_id"], name=r["name"], kind=r["kind"], status=r["status"],
        status_message=r["status_message"], start_time=_dt(r["start_ns"]) or datetime.fromtimestamp(0, UTC),
        end_time=_dt(r["end_ns"]), duration_ms=r["duration_ms"], tokens_in=r["tokens_in"],
        tokens_out=r["tokens_out"], cache_read_tokens=r["cache_read_tokens"],
        cache_creation_tokens=r["cache_creation_tokens"], reasoning_tokens=r["reasoning_tokens"],
        cost_usd=r["cost_usd"], provided_cost_usd=r["provided_cost_usd"], computed_cost_usd=r["computed_cost_usd"],
        unpriced=bool(r["unpriced"]), model=r["model"], provider=r["provider"], source_type=r["source_type"],
        workspace=r["workspace"] or "unknown", attributes=json.loads(r["attributes"]),
        resource_attributes=json.loads(r["resource_attributes"]),
        events=json.loads(r["events"]) if r["events"] else [],
    )


def _where(org_id: str, filters: list[tuple[str, Any]]) -> tuple[str, list[Any]]:
    clauses = ["org_id = ?"]
    params: list[Any] = [org_id]
    for clause, value in filters:
        if value is not None:
            clauses.append(clause)
            params.append(value)
    return " AND ".join(clauses), params


def list_traces(conn: sqlite3.Connection, org_id: str, q: TraceQuery) -> list[TraceSummary]:
    where, params = _where(org_id, [
        ("trace_id = ?", q.trace_id),
        ("session_id = ?", q.session_id),
        ("start_ns >= ?", _ns(q.start_time)),
        ("start_ns <= ?", _ns(q.end_time)),
    ])
    if q.task_id is not None:
        where += " AND trace_id IN (SELECT trace_id FROM spans WHERE org_id = ? AND task_id = ?)"
        params += [org_id, q.task_id]
    rows = conn.execute(
        f"""SELECT trace_id, COUNT(*) AS n, MIN(start_ns) AS s, MAX(end_ns) AS e,
                   SUM(tokens_in) AS ti, SUM(tokens_out) AS t_o, SUM(cost_usd) AS c,
                   MAX(status = 'error') AS err, MAX(session_id) AS sid, MAX(task_id) AS tid,
                   MAX(service_name) AS svc, MAX(source_type) AS src
            FROM spans WHERE {where} GROUP BY trace_id ORDER BY s DESC LIMIT ? OFFSET ?""",
        (*params, q.limit, q.offset),
    ).fetchall()
    out = []
    for r in rows:
        root = conn.execute(
            "SELECT name, source_type FROM spans WHERE org_id = ? AND trace_id = ? "
            "ORDER BY (parent_span_id IS NULL) DESC, start_ns LIMIT 1", (org_id, r["trace_id"])
        ).fetchone()
        out.append(TraceSummary(
            trace_id=r["trace_id"], root_span_name=root["name"] if root else None, service_name=r["svc"],
            source_type=root["source_type"] if root else r["src"], status="error" if r["err"] else "ok",
            span_count=r["n"], start_time=_dt(r["s"]) or datetime.fromtimestamp(0, UTC), end_time=_dt(r["e"]),
            duration_ms=max((r["e"] or r["s"]) - r["s"], 0) / 1e6, tokens_in=r["ti"] or 0,
            tokens_out=r["t_o"] or 0, cost_usd=r["c"] or 0.0, session_id=r["sid"], task_id=r["tid"],
        ))
    return out


def get_trace(conn: sqlite3.Connection, org_id: str, trace_id: str) -> list[SpanView]:
    rows = conn.execute(
        "SELECT * FROM spans WHERE org_id = ? AND trace_id = ? ORDER BY start_ns", (org_id, trace_id)
    ).fetchall()
    return [_span(r) for r in rows]


def list_spans(conn: sqlite3.Connection, org_id: str, q: SpanQuery) -> list[SpanView]:
    where, params = _where(org_id, [
        ("task_id = ?", q.task_id),
        ("trace_id = ?", q.trace_id),
        ("assignment_id = ?", q.agent_assignment_id),
        ("session_id = ?", q.session_id),
        ("provider = ?", q.provider),
        ("model = ?", q.model),
        ("status = ?", q.status),
        ("COALESCE(workspace, 'unknown') = ?", q.workspace),
        ("start_ns >= ?", _ns(q.start_after)),
        ("start_ns <= ?", _ns(q.start_before)),
    ])
    rows = conn.execute(
        f"SELECT * FROM spans WHERE {where} ORDER BY start_ns DESC LIMIT ? OFFSET ?", (*params, q.limit, q.offset)
    ).fetchall()
    return [_span(r) for r in rows]


def _session(r: sqlite3.Row) -> SessionView:
    return SessionView(
        session_id=r["session_id"], source_type=r["source_type"], service_name=r["service_name"],
        workspace=r["workspace"] or "unknown", user_id=r["user_id"], user_email=r["user_email"],
        organization_id=r["account_org"], app_version=r["app_version"], terminal_type=r["terminal_type"],
        models=json.loads(r["models"]), started_at=_dt(r["first_seen_ns"]), last_seen_at=_dt(r["last_seen_ns"]),
        summary=json.loads(r["rollup"]) if r["rollup"] else None,
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
