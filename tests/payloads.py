"""Hand-built OTLP payloads shared by tests (protobuf messages and OTLP/JSON documents)."""

from __future__ import annotations

import os
import time
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span


def kv(key: str, value: Any) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def trace_request(n: int = 3, service: str = "test-svc", trace_id: bytes | None = None,
                  attrs: dict[str, Any] | None = None) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.append(kv("service.name", service))
    ss = rs.scope_spans.add()
    tid = trace_id or os.urandom(16)
    start = time.time_ns()
    for i in range(n):
        span = Span(trace_id=tid, span_id=os.urandom(8), name=f"op-{i}", kind=Span.SPAN_KIND_INTERNAL,
                    start_time_unix_nano=start + i, end_time_unix_nano=start + i + 1_000_000)
        for k, v in (attrs or {}).items():
            span.attributes.append(kv(k, v))
        ss.spans.append(span)
    return req


def log_request(events: list[dict[str, Any]], service: str = "claude-code") -> ExportLogsServiceRequest:
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.append(kv("service.name", service))
    sl = rl.scope_logs.add()
    for i, attrs in enumerate(events):
        rec = LogRecord(time_unix_nano=time.time_ns() + i)
        for k, v in attrs.items():
            rec.attributes.append(kv(k, v))
        sl.log_records.append(rec)
    return req


def gemini_json(session: str, now_ns: int) -> dict[str, dict[str, Any]]:
    """The three signals as Gemini CLI posts them: OTLP/JSON, hex ids, int64 as strings, integer enums."""
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "gemini-cli"}},
                               {"key": "session.id", "value": {"stringValue": session}}]}
    attr = lambda k, v: {"key": k, "value": {"stringValue": v} if isinstance(v, str) else {"intValue": str(v)}}  # noqa: E731
    traces = {"resourceSpans": [{"resource": resource, "scopeSpans": [{"scope": {"name": "gemini-cli"}, "spans": [
        {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "name": "invoke_agent gemini",
         "kind": 1, "startTimeUnixNano": str(now_ns), "endTimeUnixNano": str(now_ns + 5_000_000),
         "attributes": [attr("gen_ai.operation.name", "invoke_agent"), attr("gen_ai.conversation.id", session)],
         "status": {"code": 1}, "unknownField": {"ignored": True}},
        {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b175",
         "parentSpanId": "eee19b7ec3c1b174", "name": "execute_tool read_file", "kind": 1,
         "startTimeUnixNano": str(now_ns + 1000), "endTimeUnixNano": str(now_ns + 2_000_000),
         "attributes": [attr("gen_ai.operation.name", "execute_tool"), attr("gen_ai.tool.name", "read_file"),
                        attr("gen_ai.tool.call_id", "call-1"), attr("gen_ai.conversation.id", session)]},
    ]}]}]}
    logs = {"resourceLogs": [{"resource": resource, "scopeLogs": [{"logRecords": [
        {"timeUnixNano": str(now_ns), "body": {"stringValue": "gemini_cli.user_prompt"},
         "attributes": [attr("event.name", "gemini_cli.user_prompt"), attr("prompt", "hello"),
                        attr("prompt_id", "p1"), attr("session.id", session)]},
        {"timeUnixNano": str(now_ns + 10), "eventName": "gemini_cli.api_response",
         "attributes": [attr("model", "gemini-2.5-pro"), attr("input_token_count", 1000),
                        attr("output_token_count", 200), attr("cached_content_token_count", 400),
                        attr("thoughts_token_count", 50), attr("duration_ms", 900), attr("status_code", 200),
                        attr("session.id", session)]},
        {"timeUnixNano": str(now_ns + 20), "body": {"stringValue": "gemini_cli.tool_call"},
         "attributes": [attr("event.name", "gemini_cli.tool_call"), attr("function_name", "read_file"),
                        attr("function_args", '{"path": "a.py"}'), attr("duration_ms", 12),
                        attr("success", "true"), attr("decision", "auto_accept"), attr("session.id", session)]},
    ]}]}]}
    metrics = {"resourceMetrics": [{"resource": resource, "scopeMetrics": [{"metrics": [
        {"name": "gemini_cli.lines.changed", "sum": {"aggregationTemporality": 2, "isMonotonic": True,
         "dataPoints": [{"asInt": "12", "startTimeUnixNano": str(now_ns - 10**9), "timeUnixNano": str(now_ns),
                         "attributes": [attr("type", "added"), attr("session.id", session)]}]}},
    ]}]}]}
    return {"traces": traces, "logs": logs, "metrics": metrics}


# Fields of the insights answers that depend on the clock of the read, not on stored data.
CLOCK_FIELDS = {"analyzed_at", "start_date", "end_date"}


def stable(value: Any) -> Any:
    """A JSON answer without its clock fields, for comparing two reads of the same data."""
    if isinstance(value, dict):
        return {k: stable(v) for k, v in value.items() if k not in CLOCK_FIELDS}
    if isinstance(value, list):
        return [stable(v) for v in value]
    return value
