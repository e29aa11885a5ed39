"""Read queries of the Firestore store (each records its shape, checked against indexes.py), rendered into the
API's pydantic views."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, cast

from core.adapters.firestore import layout
from core.adapters.firestore.indexes import Direction, QueryShape
from core.adapters.sqlite.reads import span_view
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

Doc = dict[str, Any]
# Every query shape the adapter has run (bounded: shapes, not values); a test checks each against indexes.py.
RECORDED_SHAPES: set[QueryShape] = set()
_IN_LIMIT = 30  # Firestore's cap on the values of one `in` filter
_EPOCH = datetime.fromtimestamp(0, UTC)
_INT64 = 2**63 - 1
_MAX_OFFSET = 2**31 - 1  # Firestore's offset is a 32-bit integer; no store holds more documents than that


def _dt(ns: int | None) -> datetime | None:
    return datetime.fromtimestamp(ns / 1e9, UTC) if ns else None


def _ns(value: datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return max(-_INT64, min(int(value.timestamp() * 1e9), _INT64))


def query(client: Any, org_id: str, collection: str, eq: dict[str, Any] | None = None,
          ranges: Iterable[tuple[str, str, Any]] = (), order: tuple[str, Direction] | None = None,
          limit: int | None = None, offset: int = 0, in_filter: tuple[str, list[Any]] | None = None) -> list[Doc]:
    """Run one query on an org's collection. ``eq``: equality filters (None values skipped); ``ranges``: (field,
    op, value) on the order field only (None values skipped); ``in_filter``: one `in` filter."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    q: Any = client.collection(f"orgs/{layout.part(org_id) or '~'}/{collection}")
    eq_fields: list[str] = []
    for field, value in (eq or {}).items():
        if value is not None:
            q = q.where(filter=FieldFilter(field, "==", value))
            eq_fields.append(field)
    if in_filter is not None:
        q = q.where(filter=FieldFilter(in_filter[0], "in", in_filter[1]))
        eq_fields.append(in_filter[0])
    range_field: str | None = None
    for field, op, value in ranges:
        if value is not None:
            q = q.where(filter=FieldFilter(field, op, value))
            range_field = field
    if order is not None:
        q = q.order_by(order[0], direction=order[1])
    elif range_field is not None:
        order = (range_field, "ASCENDING")
    if offset > _MAX_OFFSET:
        return []
    if offset:
        q = q.offset(offset)
    if limit is not None:
        q = q.limit(limit)
    RECORDED_SHAPES.add(QueryShape(collection, tuple(sorted(eq_fields)), order))
    return [snap.to_dict() for snap in q.stream()]


def query_in(client: Any, org_id: str, collection: str, field: str, values: Iterable[Any],
             eq: dict[str, Any] | None = None) -> list[Doc]:
    """An `in` query over any number of values (chunked to Firestore's limit)."""
    items = sorted(set(values))
    out: list[Doc] = []
    for i in range(0, len(items), _IN_LIMIT):
        out += query(client, org_id, collection, eq, in_filter=(field, items[i:i + _IN_LIMIT]))
    return out


def get_docs(client: Any, paths: list[str]) -> dict[str, Doc]:
    """Existing documents by path (missing ones left out)."""
    if not paths:
        return {}
    refs = [client.document(p) for p in paths]
    return {snap.reference.path: cast(Doc, snap.to_dict()) for snap in client.get_all(refs) if snap.exists}


def _span(doc: Doc) -> SpanView:
    return span_view(cast(Any, doc))


# -- traces -------------------------------------------------------------------------------------------------------

def _trace_page(client: Any, org_id: str, q: TraceQuery) -> list[str]:
    """Trace ids of one page, newest first by trace start (each trace's start is kept on its trace document)."""
    t_from, t_to = _ns(q.start_time), _ns(q.end_time)
    if q.trace_id is None and q.session_id is None and q.task_id is None:
        docs = query(client, org_id, layout.TRACES, ranges=[("start_ns", ">=", t_from), ("start_ns", "<=", t_to)],
                     order=("start_ns", "DESCENDING"), limit=q.limit, offset=q.offset)
        return [d["trace_id"] for d in docs]
    candidates: set[str] | None = {path_span_id(q.trace_id)} if q.trace_id is not None else None
    for field, value in (("session_id", q.session_id), ("task_id", q.task_id)):
        if value is None:
            continue
        found = {d["trace_id"] for d in query(client, org_id, layout.SPANS, {field: value})}
        candidates = found if candidates is None else candidates & found
    traces = get_docs(client, [layout.org_path(org_id, layout.TRACES, t) for t in sorted(candidates or ())])
    starts = sorted(((d["start_ns"], d["trace_id"]) for d in traces.values()
                     if (t_from is None or d["start_ns"] >= t_from) and (t_to is None or d["start_ns"] <= t_to)),
                    reverse=True)
    return [t for _, t in starts[q.offset:q.offset + q.limit]]


def trace_spans(client: Any, org_id: str, trace_id: str) -> list[Doc]:
    docs = query(client, org_id, layout.SPANS, {"trace_id": trace_id}, order=("start_ns", "ASCENDING"))
    return sorted(docs, key=lambda d: (d["start_ns"], d["span_id"]))


def list_traces(client: Any, org_id: str, q: TraceQuery) -> list[TraceSummary]:
    out = []
    for trace_id in _trace_page(client, org_id, q):
        spans = trace_spans(client, org_id, trace_id)
        if not spans:
            continue
        roots = [s for s in spans if s["parent_span_id"] is None]
        root = roots[0] if roots else spans[0]
        start = min(s["start_ns"] for s in spans)
        end = max(s["end_ns"] for s in spans)
        out.append(TraceSummary(
            trace_id=trace_id, root_span_name=root["name"],
            service_name=max((s["service_name"] for s in spans if s["service_name"] is not None), default=None),
            source_type=root["source_type"], status="error" if any(s["status"] == "error" for s in spans) else "ok",
            span_count=len(spans), start_time=_dt(start) or _EPOCH, end_time=_dt(end),
            duration_ms=max((end or start) - start, 0) / 1e6, tokens_in=sum(s["tokens_in"] for s in spans),
            tokens_out=sum(s["tokens_out"] for s in spans), cost_usd=sum(s["cost_usd"] for s in spans),
            session_id=max((s["session_id"] for s in spans if s["session_id"] is not None), default=None),
            task_id=max((s["task_id"] for s in spans if s["task_id"] is not None), default=None),
        ))
    return out


def get_trace(client: Any, org_id: str, trace_id: str) -> list[SpanView]:
    return [_span(d) for d in trace_spans(client, org_id, trace_id)]


def list_spans(client: Any, org_id: str, q: SpanQuery) -> list[SpanView]:
    docs = query(client, org_id, layout.SPANS, {
        "task_id": q.task_id, "trace_id": path_span_id(q.trace_id) if q.trace_id else None,
        "assignment_id": q.agent_assignment_id, "session_id": q.session_id, "provider": q.provider,
        "model": q.model, "status": q.status, "workspace_key": q.workspace,
    }, ranges=[("start_ns", ">=", _ns(q.start_after)), ("start_ns", "<=", _ns(q.start_before))],
        order=("start_ns", "DESCENDING"), limit=q.limit, offset=q.offset)
    return [_span(d) for d in docs]


# -- sessions -----------------------------------------------------------------------------------------------------

def session_view(r: Doc) -> SessionView:
    return SessionView(
        session_id=r["session_id"], source_type=r["source_type"], service_name=r["service_name"],
        workspace=r["workspace"] or "unknown", user_id=r["user_id"], user_email=r["user_email"],
        organization_id=r["account_org"], app_version=r["app_version"], terminal_type=r["terminal_type"],
        models=list(r["models"]), started_at=_dt(r["first_seen_ns"]), last_seen_at=_dt(r["last_seen_ns"]),
        ended_at=_dt(r["ended_ns"]) if r.get("ended_ns") else None, end_reason=r.get("end_reason"),
        transcript_path=r.get("transcript_path"), summary=json.loads(r["rollup"]) if r.get("rollup") else None,
    )


def list_sessions(client: Any, org_id: str, limit: int, offset: int) -> list[SessionView]:
    docs = query(client, org_id, layout.SESSIONS, order=("last_seen_ns", "DESCENDING"), limit=limit,
                 offset=offset)
    return [session_view(d) for d in docs]


def get_session(client: Any, org_id: str, session_id: str) -> SessionView | None:
    path = layout.org_path(org_id, layout.SESSIONS, session_id)
    doc = get_docs(client, [path]).get(path)
    return session_view(doc) if doc else None


def session_tool_calls(client: Any, org_id: str, session_id: str) -> list[ToolCallView]:
    docs = query(client, org_id, layout.TOOL_CALLS, {"session_id": session_id}, order=("time_ns", "ASCENDING"))
    return [
        ToolCallView(
            tool_use_id=r["tool_use_id"], session_id=r["session_id"], tool_name=r["tool_name"],
            start_time=_dt(r["time_ns"]), duration_ms=r["duration_ms"], success=r["success"], error=r["error"],
            decision=r["decision"], decision_source=r["decision_source"], approval_wait_ms=r["approval_wait_ms"],
            tool_input=r["tool_input"], tool_response=r["tool_result"], trace_id=r["trace_id"],
            span_id=r["span_id"],
        )
        for r in docs
    ]


def session_llm_call_docs(client: Any, org_id: str, session_id: str, t_from: int | None = None,
                          t_to: int | None = None) -> list[Doc]:
    return query(client, org_id, layout.LLM_CALLS, {"session_id": session_id},
                 ranges=[("time_ns", ">=", t_from), ("time_ns", "<=", t_to)], order=("time_ns", "ASCENDING"))


def session_llm_calls(client: Any, org_id: str, session_id: str) -> list[LlmCallView]:
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
        for r in session_llm_call_docs(client, org_id, session_id)
    ]


def session_events(client: Any, org_id: str, session_id: str, names: list[str] | None) -> list[EventView]:
    if names:
        docs = sorted(query_in(client, org_id, layout.EVENTS, "name", names, {"session_id": session_id}),
                      key=lambda d: d["time_ns"])
    else:
        docs = query(client, org_id, layout.EVENTS, {"session_id": session_id}, order=("time_ns", "ASCENDING"))
    return [
        EventView(event_key=r["event_key"], name=r["name"], time=_dt(r["time_ns"]) or datetime.now(UTC),
                  session_id=r["session_id"], prompt_id=r["prompt_id"], severity=r["severity"], body=r["body"],
                  attributes=json.loads(r["attributes"]))
        for r in docs
    ]


def list_metric_points(client: Any, org_id: str, q: MetricQuery) -> list[MetricPointView]:
    docs = query(client, org_id, layout.METRIC_POINTS,
                 {"session_id": q.session_id, "name": q.name, "workspace": q.workspace},
                 ranges=[("time_ns", ">=", _ns(q.since)), ("time_ns", "<=", _ns(q.until))],
                 order=("time_ns", "DESCENDING"), limit=q.limit, offset=q.offset)
    return [
        MetricPointView(
            name=r["name"], metric_type=r["metric_type"], temporality=r["temporality"], series_key=r["series_key"],
            session_id=r["session_id"], model=r["model"], label_type=r["label_type"],
            start_time=_dt(r["start_ns"]), timestamp=_dt(r["time_ns"]) or datetime.now(UTC), value=r["value"],
            labels=json.loads(r["attributes"]), resource_attributes=json.loads(r["resource_attributes"]),
        )
        for r in docs
    ]
