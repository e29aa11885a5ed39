"""Normalises OTLP spans of every dialect into span records plus the LLM and tool calls they report."""

from __future__ import annotations

import json
from typing import Any

from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, Span

from core.normalise.attributes import TIME_LIMIT_NS, attrs_dict, first, to_amount, to_bool, to_str, valid_ns
from core.normalise.content import mask_content
from core.normalise.jsontext import compact_json
from core.normalise.linking import link
from core.normalise.resource import ResourceContext, fill_session, resource_context, source_type_of
from core.normalise.usage import price, span_usage
from core.pricing import PriceTable
from core.records import Batch, LlmCallRecord, SpanRecord, ToolCallRecord
from core.span_filter import SpanFilter

_KINDS = ("internal", "internal", "server", "client", "producer", "consumer")
_STATUSES = ("unset", "ok", "error")
_LLM_OPERATIONS = frozenset({"chat", "text_completion", "generate_content"})
_ZERO_TRACE = bytes(16)
_ZERO_SPAN = bytes(8)
TOOL_ID_KEYS = ("tool_use_id", "gen_ai.tool.call.id", "gen_ai.tool.call_id")


def tool_placeholder_id(trace_id: str, span_id: str) -> str:
    """Key of a tool call known only by its tool span (until that span, carrying the id, arrives)."""
    return f"span:{trace_id}:{span_id}"


def normalise_spans(
    resource_spans: list[ResourceSpans], batch: Batch, prices: PriceTable, span_filter: SpanFilter
) -> None:
    tool_by_span: dict[str, str] = {}
    blocked: list[tuple[str, ToolCallRecord]] = []
    for rs in resource_spans:
        ctx = resource_context(rs.resource)
        for ss in rs.scope_spans:
            for span in ss.spans:
                _normalise_one(span, ctx, batch, prices, span_filter, tool_by_span, blocked)
    for parent_key, rec in blocked:
        rec.tool_use_id = tool_by_span.get(parent_key, rec.tool_use_id)
        batch.tool_calls.append(rec)


def _invalid_reason(trace: bytes, span_id: bytes, parent: bytes, start: int, end: int) -> str | None:
    if len(trace) != 16 or trace == _ZERO_TRACE:
        return "invalid trace_id"
    if len(span_id) != 8 or span_id == _ZERO_SPAN:
        return "invalid span_id"
    if parent and len(parent) != 8:
        return "invalid parent_span_id"
    if not start:
        return "missing start_time"
    if not valid_ns(start) or end >= TIME_LIMIT_NS:
        return "time out of range"
    if end and end < start:
        return "end_time before start_time"
    return None


def _normalise_one(
    span: Span,
    ctx: ResourceContext,
    batch: Batch,
    prices: PriceTable,
    span_filter: SpanFilter,
    tool_by_span: dict[str, str],
    blocked: list[tuple[str, ToolCallRecord]],
) -> None:
    # Each read of a protobuf field builds a new Python object: every field is read once.
    trace_b, span_b, parent_b = span.trace_id, span.span_id, span.parent_span_id
    start, end = span.start_time_unix_nano, span.end_time_unix_nano
    reason = _invalid_reason(trace_b, span_b, parent_b, start, end)
    if reason:
        batch.reject(reason)
        return
    name = span.name
    if not span_filter.allows(name, ctx.service_name):
        batch.filtered += 1
        return
    attrs = attrs_dict(span.attributes)
    mask_content(attrs, batch.redactions)
    trace_id = trace_b.hex()
    span_id = span_b.hex()
    parent = parent_b.hex() or None
    session_id = to_str(first(attrs, ("session.id", "gen_ai.conversation.id"))) or ctx.session_id
    usage = price(span_usage(attrs), prices)
    span_status = span.status
    code = span_status.code
    kind = span.kind
    status = _STATUSES[code] if code < 3 else "unset"
    record = SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        name=name,
        kind=_KINDS[kind] if kind < 6 else "internal",
        status=status,
        status_message=span_status.message or None,
        start_ns=start,
        end_ns=end,
        session_id=session_id,
        service_name=ctx.service_name,
        source_type=ctx.source_type if ctx.source_type != "other" else source_type_of(None, name),
        workspace=ctx.workspace or to_str(attrs.get("process.cwd")) or "",
        usage=usage,
        links=link(ctx, attrs, name),
        attributes_json=compact_json(attrs) if attrs else "{}",
        resource_json=ctx.json,
        events_json=_events_json(span) if span.events else None,
    )
    batch.spans.append(record)
    if session_id:
        seen = batch.see_session(session_id, start)
        if end > seen.last_seen_ns:
            seen.last_seen_ns = end
        fill_session(seen, ctx, attrs)
        if not seen.workspace and record.workspace:  # process.cwd on the span rather than the resource
            seen.workspace = record.workspace
        if usage.model:
            seen.models.add(usage.model)
    op = attrs.get("gen_ai.operation.name")
    if name == "claude_code.llm_request" or op in _LLM_OPERATIONS or attrs.get("openinference.span.kind") == "LLM":
        batch.llm_calls.append(llm_call_from_span(record, attrs))
    elif name == "claude_code.tool" or op == "execute_tool":
        tool = tool_call_from_span(record, attrs)
        tool_by_span[f"{trace_id}:{span_id}"] = tool.tool_use_id
        batch.tool_calls.append(tool)
    elif name == "claude_code.tool.blocked_on_user" and parent:
        wait = to_amount(attrs.get("duration_ms"))
        rec = ToolCallRecord(
            tool_use_id=to_str(first(attrs, TOOL_ID_KEYS)) or tool_placeholder_id(trace_id, parent),
            session_id=session_id,
            decision=to_str(attrs.get("decision")),
            decision_source=to_str(attrs.get("source")),
            approval_wait_ms=wait if wait is not None else record.duration_ms,
        )
        blocked.append((f"{trace_id}:{parent}", rec))


def _events_json(span: Span) -> str:
    return compact_json(
        [{"name": e.name, "time_unix_nano": e.time_unix_nano, "attributes": attrs_dict(e.attributes)}
         for e in span.events]
    )


def llm_call_from_span(span: SpanRecord, attrs: dict[str, Any]) -> LlmCallRecord:
    """The LLM call a span reports (keyed by response id when it has one, else by the span)."""
    response_id = to_str(attrs.get("gen_ai.response.id"))
    success = to_bool(attrs.get("success"))
    return LlmCallRecord(
        call_key=f"resp:{response_id}" if response_id else f"span:{span.trace_id}:{span.span_id}",
        session_id=span.session_id,
        time_ns=span.end_ns or span.start_ns,
        duration_ms=span.duration_ms,
        usage=span.usage,
        response_id=response_id,
        trace_id=span.trace_id,
        span_id=span.span_id,
        prompt_id=to_str(first(attrs, ("prompt.id", "prompt_id"))),
        success=success if success is not None else span.status != "error",
        source="span",
        links=span.links,
    )


def tool_call_from_span(span: SpanRecord, attrs: dict[str, Any]) -> ToolCallRecord:
    """The tool call a span reports (keyed by its tool_use_id, else a placeholder of the span)."""
    tool_id = to_str(first(attrs, TOOL_ID_KEYS)) or tool_placeholder_id(span.trace_id, span.span_id)
    args = first(attrs, ("tool_input", "gen_ai.tool.call.arguments", "tool_parameters", "function_args"))
    result = attrs.get("gen_ai.tool.call.result")
    success = to_bool(attrs.get("success"))
    return ToolCallRecord(
        tool_use_id=tool_id,
        session_id=span.session_id,
        tool_name=to_str(first(attrs, ("tool_name", "gen_ai.tool.name"))),
        time_ns=span.start_ns,
        duration_ms=span.duration_ms,
        success=success if success is not None else (False if span.status == "error" else None),
        error=span.status_message if span.status == "error" else None,
        tool_input=_as_text(args),
        tool_result=_as_text(result),
        trace_id=span.trace_id,
        span_id=span.span_id,
    )


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, default=str)
