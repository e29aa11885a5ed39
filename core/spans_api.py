"""Span CRUD of the JSON API: validate a seed Span, price it, and write it through the one span write path."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from core.errors import BadParameter, Conflict, NotFound
from core.hierarchy.enriched import attach_chat
from core.hierarchy.models import (
    EventType,
    SpanCreate,
    SpanEventCreate,
    SpanEventList,
    SpanEventView,
    SpanUpdate,
)
from core.hierarchy.names import HEX_ID, path_span_id
from core.models import SpanList, SpanQuery, SpanView
from core.normalise.attributes import TIME_LIMIT_NS, valid_ns
from core.normalise.jsontext import compact_json
from core.normalise.resource import source_type_of
from core.normalise.usage import price, provider_name
from core.ports.store import Store
from core.pricing import PriceTable
from core.records import Links, SpanRecord, Usage

_OTLP_LENGTH = {"id": 16, "trace_id": 32}
_EVENT_TYPES: tuple[EventType, ...] = ("approval", "tool", "error", "custom")


def normalise_id(value: str, field: str) -> str:
    """An OTLP-like id (hex digits only) must have OTLP's length (span 16, trace 32) and not be all zeros; it
    is kept lowercase. Other ids (the seed's ``claude-<uuid>``, ``gemini-<id>``) are kept as given."""
    value = value.strip()
    if not value:
        raise BadParameter(f"invalid field '{field}': must not be empty")
    if HEX_ID.match(value):
        if len(value) != _OTLP_LENGTH[field]:
            raise BadParameter(f"invalid field '{field}': a hex id must have {_OTLP_LENGTH[field]} characters")
        if not value.strip("0"):
            raise BadParameter(f"invalid field '{field}': an all-zero id is invalid")
        return value.lower()
    return value


def _ns(value: datetime, field: str = "timestamp") -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    ns = int(value.timestamp() * 1_000_000) * 1000  # microsecond precision: no float noise in the ns
    if not valid_ns(ns):
        raise BadParameter(f"invalid field '{field}': must lie between 1970 and 2100")
    return ns


def _blank(value: str | None) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def to_record(body: SpanCreate, prices: PriceTable) -> SpanRecord:
    """The stored facts of a posted span: times in ns, usage priced by the price table, links and blobs."""
    span_id = normalise_id(body.id, "id")
    trace_id = normalise_id(body.trace_id, "trace_id")
    parent = _blank(body.parent_span_id)
    if parent is not None:
        parent = path_span_id(parent)
        if parent == span_id:
            raise BadParameter("invalid field 'parent_span_id': a span cannot be its own parent")
    start = _ns(body.start_time, "start_time")
    if body.end_time is not None:
        end = _ns(body.end_time, "end_time")
        if end < start:
            raise BadParameter("invalid field 'end_time': must not be before start_time")
    elif body.duration_ms is not None:
        end = start + round(body.duration_ms * 1e6)
        if end >= TIME_LIMIT_NS:
            raise BadParameter("invalid field 'duration_ms': the span would end in 2100 or later")
    else:
        end = 0  # not ended (yet)
    resource = body.resource_attributes or {}
    attributes = body.attributes or {}
    service = resource.get("service.name")
    service_name = service if isinstance(service, str) and service else None
    cwd = resource.get("process.cwd") or attributes.get("process.cwd")
    model = _blank(body.model)
    usage = price(Usage(
        model=model, provider=provider_name(_blank(body.provider), model), tokens_in=body.tokens_in,
        tokens_out=body.tokens_out, cache_read_tokens=body.cache_read_tokens,
        cache_creation_tokens=body.cache_creation_tokens, reasoning_tokens=body.reasoning_tokens,
        provided_cost_usd=body.cost_usd or None,  # a zero cost is "not reported" (as at ingest)
    ), prices)
    return SpanRecord(
        trace_id=trace_id, span_id=span_id, parent_span_id=parent, name=body.name, kind=body.kind,
        status=body.status, status_message=_blank(body.status_message), start_ns=start, end_ns=end,
        session_id=_blank(body.session_id), service_name=service_name,
        source_type=source_type_of(service_name, body.name),
        workspace=_blank(body.workspace) or (cwd if isinstance(cwd, str) else "") or "",
        usage=usage,
        links=Links(task_id=_blank(body.task_id), assignment_id=_blank(body.agent_assignment_id),
                    chain_id=_blank(body.chain_id), stage_id=_blank(body.stage_id),
                    message_id=_blank(body.message_id)),
        attributes_json=compact_json(attributes), resource_json=compact_json(resource),
        events_json=compact_json(body.events) if body.events else None,
    )


def _stored(store: Store, org_id: str, span_id: str) -> SpanView:
    span = store.find_span(org_id, path_span_id(span_id))
    if span is None:
        raise NotFound(f"span {span_id} not found")
    return span


def create_span(store: Store, prices: PriceTable, org_id: str, body: SpanCreate) -> SpanView:
    """201 with the stored span; replaying the same create is harmless, another span under its id is a 409."""
    record = to_record(body, prices)
    outcome = store.create_span(org_id, record)
    if outcome == "conflict":
        raise Conflict(f"span {record.span_id} of trace {record.trace_id} already exists: update it with PUT")
    return _stored(store, org_id, record.span_id)


def get_span(store: Store, org_id: str, span_id: str) -> SpanView:
    return _stored(store, org_id, span_id)


def _as_body(span: SpanView) -> dict[str, Any]:
    """The stored span as a create body (provided cost, not the computed one, so a change reprices it)."""
    return {
        "id": span.id, "trace_id": span.trace_id, "parent_span_id": span.parent_span_id, "task_id": span.task_id,
        "agent_assignment_id": span.agent_assignment_id, "chain_id": span.chain_id, "stage_id": span.stage_id,
        "message_id": span.message_id, "session_id": span.session_id, "name": span.name, "kind": span.kind,
        "status": span.status, "status_message": span.status_message, "start_time": span.start_time,
        "end_time": span.end_time, "tokens_in": span.tokens_in, "tokens_out": span.tokens_out,
        "cache_read_tokens": span.cache_read_tokens, "cache_creation_tokens": span.cache_creation_tokens,
        "reasoning_tokens": span.reasoning_tokens, "cost_usd": span.provided_cost_usd, "model": span.model,
        "provider": span.provider, "workspace": None if span.workspace == "unknown" else span.workspace,
        "attributes": span.attributes, "resource_attributes": span.resource_attributes, "events": span.events,
    }


_REQUIRED = frozenset({"name", "kind", "status", "start_time", "tokens_in", "tokens_out", "cache_read_tokens",
                       "cache_creation_tokens", "reasoning_tokens"})


def update_span(store: Store, prices: PriceTable, org_id: str, span_id: str, body: SpanUpdate) -> SpanView:
    """Change the fields given (null clears a nullable field and is ignored for the others); the span keeps
    its key. Moving the start keeps the duration unless end_time or duration_ms is given. Usage is repriced."""
    span = _stored(store, org_id, span_id)
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None or k not in _REQUIRED}
    for key, current in (("id", span.id), ("trace_id", span.trace_id)):
        given = changes.pop(key, None)
        if given is not None and path_span_id(str(given).strip()) != current:
            raise BadParameter(f"invalid field '{key}': a span cannot change its {key} (it is {current})")
    if "end_time" not in changes:
        if changes.get("duration_ms") is not None:
            changes["end_time"] = None  # the new duration decides the end
        elif "start_time" in changes and span.end_time is not None:
            changes["end_time"] = changes["start_time"] + (span.end_time - span.start_time)
    merged = _as_body(span) | changes
    try:
        new = SpanCreate.model_validate(merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise BadParameter(f"invalid field '{'.'.join(str(p) for p in err['loc'])}': {err['msg']}") from None
    if not store.replace_span(org_id, to_record(new, prices)):
        raise NotFound(f"span {span_id} not found")
    return _stored(store, org_id, span.id)


def delete_span(store: Store, org_id: str, span_id: str) -> None:
    span = _stored(store, org_id, span_id)
    if not store.delete_span(org_id, span.trace_id, span.id):
        raise NotFound(f"span {span_id} not found")


def list_spans(store: Store, org_id: str, q: SpanQuery) -> SpanList:
    spans = store.list_spans(org_id, q)
    if q.include_chat:
        attach_chat(store, org_id, spans)
    return SpanList(spans=spans, count=len(spans), limit=q.limit, offset=q.offset)


# -- span events ---------------------------------------------------------------------------------------------

def _event_time(raw: dict[str, Any]) -> datetime | None:
    ns = raw.get("time_unix_nano")
    try:
        if ns is not None and int(ns) > 0:
            return datetime.fromtimestamp(int(ns) / 1e9, UTC)
    except (TypeError, ValueError):
        pass
    stamp = raw.get("timestamp")
    if isinstance(stamp, str):
        try:
            return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def event_view(span_id: str, index: int, raw: dict[str, Any]) -> SpanEventView:
    """A stored span event (ingest's {name, time_unix_nano, attributes} or one added through the API)."""
    stored_attrs = raw.get("attributes")
    attrs: dict[str, Any] = stored_attrs if isinstance(stored_attrs, dict) else {}
    name = str(raw.get("name") or "event")
    tool = raw.get("tool_name") or attrs.get("tool_name") or attrs.get("gen_ai.tool.name")
    error = raw.get("error_message") or attrs.get("exception.message")
    kind: EventType
    stored_kind = raw.get("event_type")
    if stored_kind in _EVENT_TYPES:
        kind = stored_kind
    else:
        if name == "exception" or "error" in name.lower() or error:
            kind = "error"
        elif raw.get("approval_status") or "approval" in name.lower():
            kind = "approval"
        elif tool:
            kind = "tool"
        else:
            kind = "custom"
    return SpanEventView(
        id=index, span_id=span_id, name=name, timestamp=_event_time(raw), event_type=kind,
        approval_status=raw.get("approval_status"), tool_name=str(tool) if tool else None,
        error_message=str(error) if error else None, attributes=attrs,
    )


def list_span_events(store: Store, org_id: str, span_id: str) -> SpanEventList:
    span = _stored(store, org_id, span_id)
    events = [event_view(span.id, i, e) for i, e in enumerate(span.events, 1) if isinstance(e, dict)]
    return SpanEventList(span_id=span.id, events=events, count=len(events))


def add_span_event(store: Store, org_id: str, span_id: str, body: SpanEventCreate) -> SpanEventView:
    span = _stored(store, org_id, span_id)
    stamp = _ns(body.timestamp, "timestamp") if body.timestamp is not None else time.time_ns()
    raw: dict[str, Any] = {"name": body.name, "time_unix_nano": stamp, "attributes": body.attributes}
    for key in ("event_type", "approval_status", "tool_name", "error_message"):
        value = getattr(body, key)
        if value is not None:
            raw[key] = value
    index = store.append_span_event(org_id, span.trace_id, span.id, raw)
    if index is None:
        raise NotFound(f"span {span_id} not found")
    return event_view(span.id, index, raw)
