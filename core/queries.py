"""Read services behind the query function: traces, spans, sessions, tool calls and metrics of one org."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from core.errors import Forbidden, NotFound
from core.models import (
    MAX_LIMIT,
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
    TraceSummary,
)
from core.ports.store import Store
from core.ports.trace_archive import ArchiveQuery, ArchiveUnavailable, TraceArchive, remote_trace_id, summarise
from core.pricing import PriceTable
from core.sessions import session_summary

_log = logging.getLogger(__name__)


def list_traces(store: Store, org_id: str, q: TraceQuery, archives: Sequence[TraceArchive] = ()) -> TraceList:
    """The org's local traces merged with those of its remote archives (newest first, a local trace wins over a
    remote one of the same id); a remote that fails leaves the answer local-only plus a warning naming it."""
    mine = [a for a in archives if a.org_id == org_id]  # a remote is seen by its own org only
    window = q.offset + q.limit
    # Remote traces carry no task of ours, so a task filter matches none of them. The merged page is cut from the
    # first offset+limit traces of every source (pages neither skip nor repeat); past the first MAX_LIMIT merged
    # traces pages come from the store alone, which bounds what one read costs every source.
    if not mine or q.task_id or window > MAX_LIMIT:
        traces = store.list_traces(org_id, q)
        return TraceList(traces=traces, count=len(traces), limit=q.limit, offset=q.offset)
    local = store.list_traces(org_id, q.model_copy(update={"offset": 0, "limit": window}))
    results = _each(mine, lambda a: _remote_summaries(a, q, window))
    merged = {t.trace_id: t for t in local}
    warnings = []
    for archive, (found, failure) in zip(mine, results, strict=True):
        if failure is not None:
            warnings.append(_warning(archive))
        for t in found or ():
            merged.setdefault(t.trace_id, t)
    ordered = sorted(merged.values(), key=lambda t: t.start_time, reverse=True)[q.offset:window]
    return TraceList(traces=ordered, count=len(ordered), limit=q.limit, offset=q.offset, warnings=warnings)


def _remote_summaries(archive: TraceArchive, q: TraceQuery, limit: int) -> list[TraceSummary]:
    if q.trace_id:
        trace_id = remote_trace_id(q.trace_id)
        spans = archive.get_trace(trace_id) if trace_id else []
        found = [summarise(trace_id, spans, archive.kind)] if trace_id and spans else []
    else:
        found = archive.list_traces(ArchiveQuery(q.start_time, q.end_time, limit, q.session_id))
    # The store's filters, applied again: a remote may match more loosely (prefixes, wider windows).
    return [t for t in found
            if (not q.session_id or t.session_id == q.session_id)
            and (q.start_time is None or t.start_time >= q.start_time)
            and (q.end_time is None or t.start_time <= q.end_time)]


R = TypeVar("R")


def _each(archives: list[TraceArchive], call: Callable[[TraceArchive], R]) -> list[tuple[R | None, Exception | None]]:
    """``call`` on every archive (concurrently when there are several: each waits on the network), with the
    ArchiveUnavailable of those that failed."""
    def one(archive: TraceArchive) -> tuple[R | None, Exception | None]:
        try:
            return call(archive), None
        except ArchiveUnavailable as exc:
            _log.warning("trace archive %s unavailable: %s", archive.name, exc.message)
            return None, exc

    if len(archives) <= 1:
        return [one(a) for a in archives]
    with ThreadPoolExecutor(max_workers=min(len(archives), 8)) as pool:
        return list(pool.map(one, archives))


def _warning(archive: TraceArchive) -> str:
    return f"trace archive {archive.name} ({archive.kind}) unavailable; answered without it"


def get_trace(store: Store, org_id: str, trace_id: str, archives: Sequence[TraceArchive] = ()) -> TraceDetail:
    """The trace from the store, else from the first of the org's remote archives that knows it."""
    spans = store.get_trace(org_id, trace_id.lower())
    source = "local"
    warnings: list[str] = []
    wanted = remote_trace_id(trace_id)
    if not spans and wanted:
        mine = [a for a in archives if a.org_id == org_id]
        for archive, (found, failure) in zip(mine, _each(mine, lambda a: a.get_trace(wanted)), strict=True):
            if failure is not None:
                warnings.append(_warning(archive))
            elif found and not spans:
                spans, source, trace_id = found, archive.kind, wanted
    if not spans:
        suffix = f" ({'; '.join(warnings)})" if warnings else ""
        raise NotFound(f"trace {trace_id} not found{suffix}")
    ids = {s.id for s in spans}
    root = next((s for s in spans if not s.parent_span_id or s.parent_span_id not in ids), spans[0])
    start = min(s.start_time for s in spans)
    ends = [s.end_time for s in spans if s.end_time]
    end = max(ends) if ends else None
    return TraceDetail(
        trace_id=trace_id.lower(), root_span=root, spans=spans, span_count=len(spans),
        duration_ms=((end - start).total_seconds() * 1000) if end else 0.0, start_time=start, end_time=end,
        source=source, warnings=warnings,
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
