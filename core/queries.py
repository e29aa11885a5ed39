"""Read services behind the query function: traces, spans, sessions, tool calls and metrics of one org."""

from __future__ import annotations

from typing import Any

from core.errors import NotFound
from core.models import MetricQuery, SessionMetricsSummary, SpanQuery, TraceDetail, TraceQuery
from core.ports.store import Store
from core.pricing import PriceTable
from core.sessions import session_summary


def list_traces(store: Store, org_id: str, q: TraceQuery) -> dict[str, Any]:
    traces = store.list_traces(org_id, q)
    return {"traces": traces, "count": len(traces), "limit": q.limit, "offset": q.offset}


def get_trace(store: Store, org_id: str, trace_id: str) -> TraceDetail:
    spans = store.get_trace(org_id, trace_id.lower())
    if not spans:
        raise NotFound(f"trace {trace_id} not found")
    ids = {s.id for s in spans}
    root = next((s for s in spans if not s.parent_span_id or s.parent_span_id not in ids), spans[0])
    start = min(s.start_time for s in spans)
    ends = [s.end_time for s in spans if s.end_time]
    end = max(ends) if ends else None
    return TraceDetail(
        trace_id=trace_id.lower(), root_span=root, spans=spans, span_count=len(spans),
        duration_ms=((end - start).total_seconds() * 1000) if end else 0.0, start_time=start, end_time=end,
    )


def list_spans(store: Store, org_id: str, q: SpanQuery) -> dict[str, Any]:
    spans = store.list_spans(org_id, q)
    return {"spans": spans, "count": len(spans), "limit": q.limit, "offset": q.offset}


def list_sessions(store: Store, org_id: str, limit: int, offset: int) -> dict[str, Any]:
    sessions = store.list_sessions(org_id, limit, offset)
    return {"sessions": sessions, "count": len(sessions), "limit": limit, "offset": offset}


def _require_session(store: Store, org_id: str, session_id: str) -> None:
    if store.get_session(org_id, session_id) is None:
        raise NotFound(f"session {session_id} not found")


def get_session(store: Store, org_id: str, session_id: str) -> Any:
    session = store.get_session(org_id, session_id)
    if session is None:
        raise NotFound(f"session {session_id} not found")
    return session


def session_tools(store: Store, org_id: str, session_id: str) -> dict[str, Any]:
    _require_session(store, org_id, session_id)
    tools = store.session_tool_calls(org_id, session_id)
    return {"tools": tools, "count": len(tools)}


def session_llm_calls(store: Store, org_id: str, session_id: str) -> dict[str, Any]:
    _require_session(store, org_id, session_id)
    calls = store.session_llm_calls(org_id, session_id)
    return {"llm_calls": calls, "count": len(calls)}


def session_events(store: Store, org_id: str, session_id: str) -> dict[str, Any]:
    _require_session(store, org_id, session_id)
    events = store.session_events(org_id, session_id)
    return {"events": events, "count": len(events)}


def session_metrics(store: Store, prices: PriceTable, org_id: str, session_id: str) -> SessionMetricsSummary:
    summary = session_summary(store, prices, org_id, session_id)
    if summary is None:
        raise NotFound(f"session {session_id} not found")
    return summary


def list_metrics(store: Store, org_id: str, q: MetricQuery) -> dict[str, Any]:
    points = store.list_metric_points(org_id, q)
    return {"metrics": points, "count": len(points), "limit": q.limit, "offset": q.offset}
