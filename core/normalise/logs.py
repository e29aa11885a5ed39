"""Normalises OTLP log records: Claude Code and Gemini CLI events become session events, LLM and tool calls."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs

from core.normalise.attributes import (
    any_value,
    attrs_dict,
    first,
    to_amount,
    to_bool,
    to_count,
    to_int,
    to_str,
    valid_ns,
)
from core.normalise.content import mask_content, mask_text
from core.normalise.jsontext import compact_json
from core.normalise.linking import link
from core.normalise.resource import ResourceContext, fill_session, resource_context
from core.normalise.usage import price, provider_name
from core.pricing import PriceTable
from core.records import Batch, EventRecord, LlmCallRecord, ToolCallRecord, Usage

_PREFIXES = (("claude_code.", "claude_code"), ("gemini_cli.", "gemini_cli"))
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SEVERITIES = ("", "trace", "trace", "trace", "trace", "debug", "debug", "debug", "debug", "info", "info", "info",
               "info", "warn", "warn", "warn", "warn", "error", "error", "error", "error", "fatal", "fatal", "fatal",
               "fatal")


def event_name(record: LogRecord, attrs: dict[str, Any]) -> str | None:
    """LogRecord.event_name (newer OTLP), else the ``event.name`` attribute, else an identifier-like body."""
    name = record.event_name or to_str(attrs.get("event.name"))
    if name:
        return name
    if record.body.WhichOneof("value") == "string_value":
        body = record.body.string_value
        if body and len(body) <= 128 and " " not in body and "." in body:
            return body
    return None


def split_dialect(name: str, service_name: str | None) -> tuple[str, str]:
    """(dialect, short name): the prefix may or may not be present; the service name decides then."""
    for prefix, dialect in _PREFIXES:
        if name.startswith(prefix):
            return dialect, name[len(prefix):]
    service = (service_name or "").lower()
    if "claude" in service:
        return "claude_code", name
    if "gemini" in service:
        return "gemini_cli", name
    return "otel", name


def normalise_logs(resource_logs: list[ResourceLogs], batch: Batch, prices: PriceTable) -> None:
    for rl in resource_logs:
        ctx = resource_context(rl.resource)
        for sl in rl.scope_logs:
            for record in sl.log_records:
                _normalise_one(record, ctx, batch, prices)


def _timestamp(record: LogRecord, attrs: dict[str, Any]) -> int:
    if record.time_unix_nano:
        return record.time_unix_nano
    stamp = to_str(attrs.get("event.timestamp"))
    if stamp:
        try:
            moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return (moment - _EPOCH) // timedelta(microseconds=1) * 1000  # integer maths: no float rounding
        except ValueError:
            pass
    return record.observed_time_unix_nano


def _normalise_one(record: LogRecord, ctx: ResourceContext, batch: Batch, prices: PriceTable) -> None:
    if record.trace_id and len(record.trace_id) != 16:
        batch.reject("invalid trace_id")
        return
    if record.span_id and len(record.span_id) != 8:
        batch.reject("invalid span_id")
        return
    attrs = attrs_dict(record.attributes)
    time_ns = _timestamp(record, attrs)
    if not time_ns:
        batch.reject("missing timestamp")
        return
    if not valid_ns(time_ns):
        batch.reject("timestamp out of range")
        return
    # The key hashes the record as received (before masking) with its resource, so a replay maps to it again;
    # the observation time is left out when the event has its own time (an exporter re-sending it re-observes it).
    observed = record.observed_time_unix_nano
    if record.time_unix_nano and observed:
        record.observed_time_unix_nano = 0
    event_key = hashlib.sha1(ctx.digest.encode() + record.SerializeToString(deterministic=True)).hexdigest()
    record.observed_time_unix_nano = observed
    full_name = event_name(record, attrs) or "log"
    dialect, name = split_dialect(full_name, ctx.service_name)
    mask_content(attrs, batch.redactions)
    session_id = to_str(attrs.get("session.id")) or ctx.session_id
    body = record.body
    body_text = None
    if body.WhichOneof("value"):
        value = any_value(body)
        body_text = value if isinstance(value, str) else json.dumps(value, default=str)
        if body_text in (full_name, f"{dialect}.{name}"):  # the name repeated as body carries nothing
            body_text = None
        body_text = mask_text(body_text, batch.redactions)
    batch.events.append(EventRecord(
        event_key=event_key,
        name=full_name if dialect == "otel" else f"{dialect}.{name}",
        dialect=dialect,
        time_ns=time_ns,
        session_id=session_id,
        prompt_id=to_str(first(attrs, ("prompt.id", "prompt_id"))),
        trace_id=record.trace_id.hex() or None,
        span_id=record.span_id.hex() or None,
        severity=record.severity_text or (_SEVERITIES[record.severity_number] if record.severity_number < 25 else None)
        or None,
        body=body_text,
        attributes_json=compact_json(attrs),
        resource_json=ctx.json,
    ))
    if session_id:
        seen = batch.see_session(session_id, time_ns)
        fill_session(seen, ctx, attrs)
        model = to_str(attrs.get("model"))
        if model:
            seen.models.add(model)
    handler = _HANDLERS.get((dialect, name))
    if handler is not None:
        handler(attrs, ctx, batch, prices, event_key, time_ns, session_id)


def _claude_api_request(attrs: dict[str, Any], ctx: ResourceContext, batch: Batch, prices: PriceTable,
                        event_key: str, time_ns: int, session_id: str | None) -> None:
    model = to_str(attrs.get("model"))
    cost = to_amount(attrs.get("cost_usd"))
    if cost is None and attrs.get("cost_usd_micros") is not None:
        cost = (to_amount(attrs.get("cost_usd_micros")) or 0.0) / 1e6
    usage = Usage(
        model=model,
        provider=provider_name(None, model) or "claude",
        # Claude Code reports Anthropic's raw counts: input_tokens already excludes the cache.
        tokens_in=to_count(attrs.get("input_tokens")) or 0,
        tokens_out=to_count(attrs.get("output_tokens")) or 0,
        cache_read_tokens=to_count(attrs.get("cache_read_tokens")) or 0,
        cache_creation_tokens=to_count(attrs.get("cache_creation_tokens")) or 0,
        provided_cost_usd=cost if cost else None,
    )
    _add_llm_call(attrs, ctx, batch, prices, event_key, time_ns, session_id, usage,
                  to_str(attrs.get("request_id")), to_amount(attrs.get("duration_ms")))


def _gemini_api_response(attrs: dict[str, Any], ctx: ResourceContext, batch: Batch, prices: PriceTable,
                         event_key: str, time_ns: int, session_id: str | None) -> None:
    model = to_str(attrs.get("model"))
    cached = to_count(attrs.get("cached_content_token_count")) or 0
    usage = Usage(
        model=model,
        provider="gemini",
        # Gemini's prompt count includes cached content; our tokens_in excludes it.
        tokens_in=max((to_count(attrs.get("input_token_count")) or 0) - cached, 0),
        tokens_out=to_count(attrs.get("output_token_count")) or 0,
        cache_read_tokens=cached,
        reasoning_tokens=to_count(attrs.get("thoughts_token_count")) or 0,
    )
    status = to_int(attrs.get("status_code"))
    _add_llm_call(attrs, ctx, batch, prices, event_key, time_ns, session_id, usage,
                  to_str(first(attrs, ("response_id", "request_id"))), to_amount(attrs.get("duration_ms")),
                  success=status is None or status < 400)


def _add_llm_call(attrs: dict[str, Any], ctx: ResourceContext, batch: Batch, prices: PriceTable, event_key: str,
                  time_ns: int, session_id: str | None, usage: Usage, request_id: str | None,
                  duration_ms: float | None, success: bool = True) -> None:
    batch.llm_calls.append(LlmCallRecord(
        call_key=f"req:{request_id}" if request_id else f"evt:{event_key}",
        session_id=session_id,
        time_ns=time_ns,
        duration_ms=duration_ms,
        usage=price(usage, prices),
        request_id=request_id,
        event_key=event_key,
        prompt_id=to_str(first(attrs, ("prompt.id", "prompt_id"))),
        success=success,
        source="event",
        links=link(ctx, attrs, ""),
    ))


def _claude_tool(attrs: dict[str, Any], ctx: ResourceContext, batch: Batch, prices: PriceTable,
                 event_key: str, time_ns: int, session_id: str | None) -> None:
    is_result = "success" in attrs or "duration_ms" in attrs
    params = first(attrs, ("tool_input", "tool_parameters"))
    batch.tool_calls.append(ToolCallRecord(
        tool_use_id=to_str(attrs.get("tool_use_id")) or f"evt:{event_key}",
        session_id=session_id,
        tool_name=to_str(attrs.get("tool_name")),
        time_ns=time_ns if is_result else None,
        duration_ms=to_amount(attrs.get("duration_ms")),
        success=to_bool(attrs.get("success")),
        error=to_str(first(attrs, ("error", "error_type"))),
        decision=to_str(first(attrs, ("decision", "decision_type"))),
        decision_source=to_str(first(attrs, ("source", "decision_source"))),
        tool_input=params if isinstance(params, str) or params is None else json.dumps(params, default=str),
    ))


def _gemini_tool_call(attrs: dict[str, Any], ctx: ResourceContext, batch: Batch, prices: PriceTable,
                      event_key: str, time_ns: int, session_id: str | None) -> None:
    args = attrs.get("function_args")
    batch.tool_calls.append(ToolCallRecord(
        tool_use_id=to_str(first(attrs, ("call_id", "tool_call_id", "gen_ai.tool.call.id"))) or f"evt:{event_key}",
        session_id=session_id,
        tool_name=to_str(first(attrs, ("function_name", "tool_name"))),
        time_ns=time_ns,
        duration_ms=to_amount(attrs.get("duration_ms")),
        success=to_bool(attrs.get("success")),
        error=to_str(first(attrs, ("error", "error_type"))),
        decision=to_str(attrs.get("decision")),
        tool_input=args if isinstance(args, str) or args is None else json.dumps(args, default=str),
    ))


_HANDLERS = {
    ("claude_code", "api_request"): _claude_api_request,
    ("claude_code", "tool_result"): _claude_tool,
    ("claude_code", "tool_decision"): _claude_tool,
    ("gemini_cli", "api_response"): _gemini_api_response,
    ("gemini_cli", "tool_call"): _gemini_tool_call,
}
