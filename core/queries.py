"""Read services behind the query function: traces, spans, sessions, tool calls and metrics of one org."""

from __future__ import annotations

from typing import Any

from core.errors import Forbidden, NotFound
from core.models import (
    EventList,
    LlmCallList,
    MetricPointList,
    MetricQuery,
    SessionList,
    SessionMetricsSummary,
    SessionView,
    SpanList,
    SpanQuery,
    ToolCallList,
    ToolSummary,
    ToolSummaryList,
    TraceDetail,
    TraceList,
    TraceQuery,
)
from core.ports.store import Store
from core.pricing import PriceTable
from core.sessions import session_summary


def list_traces(store: Store, org_id: str, q: TraceQuery) -> TraceList:
    traces = store.list_traces(org_id, q)
    return TraceList(traces=traces, count=len(traces), limit=q.limit, offset=q.offset)


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


def list_spans(store: Store, org_id: str, q: SpanQuery) -> SpanList:
    spans = store.list_spans(org_id, q)
    return SpanList(spans=spans, count=len(spans), limit=q.limit, offset=q.offset)


def list_sessions(store: Store, org_id: str, limit: int, offset: int) -> SessionList:
    sessions = store.list_sessions(org_id, limit, offset)
    return SessionList(sessions=sessions, count=len(sessions), limit=limit, offset=offset)


def get_session(store: Store, org_id: str, session_id: str, workspace: str | None = None) -> SessionView:
    """The session; 404 when unknown, 403 when ``workspace`` is given and the session belongs to another."""
    session = store.get_session(org_id, session_id)
    if session is None:
        raise NotFound(f"session {session_id} not found")
    if workspace and session.workspace != workspace:
        raise Forbidden(f"session {session_id} does not belong to workspace {workspace!r}")
    return session


def session_tools(store: Store, org_id: str, session_id: str, workspace: str | None = None) -> ToolCallList:
    get_session(store, org_id, session_id, workspace)
    tools = store.session_tool_calls(org_id, session_id)
    return ToolCallList(tools=tools, count=len(tools))


def session_tools_summary(store: Store, org_id: str, session_id: str, workspace: str | None = None
                          ) -> ToolSummaryList:
    """The seed's tools summary: per tool name, how many calls and how many succeeded, with the calls."""
    tools = session_tools(store, org_id, session_id, workspace).tools
    by_name: dict[str, list[Any]] = {}
    for tool in tools:
        by_name.setdefault(tool.tool_name or "unknown", []).append(tool)
    return ToolSummaryList(tools=[
        ToolSummary(tool_name=name, count=len(calls), success_count=sum(1 for t in calls if t.success),
                    details=calls)
        for name, calls in sorted(by_name.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    ])


def session_llm_calls(store: Store, org_id: str, session_id: str) -> LlmCallList:
    get_session(store, org_id, session_id)
    calls = store.session_llm_calls(org_id, session_id)
    return LlmCallList(llm_calls=calls, count=len(calls))


def session_events(store: Store, org_id: str, session_id: str) -> EventList:
    get_session(store, org_id, session_id)
    events = store.session_events(org_id, session_id)
    return EventList(events=events, count=len(events))


def session_metrics(store: Store, prices: PriceTable, org_id: str, session_id: str) -> SessionMetricsSummary:
    summary = session_summary(store, prices, org_id, session_id)
    if summary is None:
        raise NotFound(f"session {session_id} not found")
    return summary


def list_metrics(store: Store, org_id: str, q: MetricQuery) -> MetricPointList:
    points = store.list_metric_points(org_id, q)
    return MetricPointList(metrics=points, count=len(points), limit=q.limit, offset=q.offset)
