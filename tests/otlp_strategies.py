"""Hypothesis strategies for OTLP export requests in every dialect's vocabulary: the attribute keys, event, span
and metric names the normalisers read, with values of any type and size (times past 64 bits, NaN, huge numbers
as strings, ids of the wrong length), as protobuf messages."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric, NumberDataPoint
from opentelemetry.proto.trace.v1.trace_pb2 import Span

# Attribute keys the normalisers read (Claude Code, Gemini CLI, GenAI old and new, OpenInference, the seed's),
# and a few no dialect uses.
KEYS = (
    "session.id", "event.name", "event.timestamp", "user.id", "user.email", "user.account_uuid", "organization.id",
    "app.version", "terminal.type", "service.name", "model", "input_tokens", "output_tokens", "cache_read_tokens",
    "cache_creation_tokens", "cost_usd", "duration_ms", "request_id", "response_id", "prompt", "prompt.id",
    "prompt_id", "tool_name", "tool_use_id", "tool_input", "tool_parameters", "tool_result", "success", "error",
    "decision", "decision_source", "decision_type", "input_token_count", "output_token_count",
    "cached_content_token_count", "response_text", "request_text", "gen_ai.system", "gen_ai.provider.name",
    "gen_ai.request.model", "gen_ai.response.model", "gen_ai.response.id", "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens", "gen_ai.usage.prompt_tokens", "gen_ai.usage.completion_tokens",
    "gen_ai.usage.cache_read_input_tokens", "gen_ai.usage.cost", "gen_ai.tool.name", "gen_ai.tool.call.id",
    "gen_ai.tool.call.arguments", "gen_ai.tool.call.result", "gen_ai.input.messages", "gen_ai.output.messages",
    "gen_ai.conversation.id", "gen_ai.token.type", "llm.model_name", "llm.provider", "llm.token_count.prompt",
    "llm.token_count.completion", "llm.token_count.prompt_details.cache_read", "llm.cost", "input.value",
    "output.value", "ailang.task_id", "ailang.chain_id", "ailang.stage_id", "ailang.tokens.input", "ailang.model",
    "ai.model", "ai.tokens_in", "ai.cost_usd", "task.id", "task.workspace", "observatory.task_id",
    "observatory.execute", "observatory.assignment_id", "type", "lines", "tool.name",
    "", "a.b`c", "__name__", "x" * 300,  # keys no dialect uses: empty, odd characters, long
)
EVENT_NAMES = ("claude_code.user_prompt", "claude_code.api_request", "claude_code.api_error", "api_refusal",
               "claude_code.tool_result", "tool_decision", "claude_code.assistant_response", "gemini_cli.api_response",
               "gemini_cli.tool_call", "gemini_cli.user_prompt", "gemini_cli.api_error", "something.else", "")
SPAN_NAMES = ("claude_code.interaction", "claude_code.llm_request", "claude_code.tool", "claude_code.tool.execution",
              "claude_code.tool.blocked_on_user", "claude_code.hook", "gemini_cli.api_request", "chat claude",
              "execute_tool Bash", "ailang.execute", "observatory.execute", "GET /healthz", "op")
METRIC_NAMES = ("claude_code.token.usage", "claude_code.cost.usage", "claude_code.lines_of_code.count",
                "claude_code.commit.count", "claude_code.pull_request.count", "claude_code.session.count",
                "claude_code.active_time.total", "claude_code.code_edit_tool.decision", "gemini_cli.token.usage",
                "gemini_cli.api.request.count", "other.metric")

_INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_TEXT = st.one_of(st.text(max_size=40), st.sampled_from(("", "0", "-1", "12.5", "1e308", "NaN", "true", "null",
                                                          "claude-sonnet-4-5", "{\"a\": 1}", "[1, 2]", "é" * 300)))
_SCALAR = st.one_of(
    st.builds(lambda v: AnyValue(string_value=v), _TEXT),
    st.builds(lambda v: AnyValue(int_value=v), _INT64),
    st.builds(lambda v: AnyValue(double_value=v), st.floats(allow_nan=True, allow_infinity=True)),
    st.builds(lambda v: AnyValue(bool_value=v), st.booleans()),
    st.builds(lambda v: AnyValue(bytes_value=v), st.binary(max_size=20)),
    st.just(AnyValue()),
)


def _array(values: list[AnyValue]) -> AnyValue:
    out = AnyValue()
    out.array_value.values.extend(values)
    return out


def _kvlist(pairs: list[tuple[str, AnyValue]]) -> AnyValue:
    out = AnyValue()
    out.kvlist_value.values.extend(KeyValue(key=k, value=v) for k, v in pairs)
    return out


_VALUE = st.one_of(_SCALAR, st.builds(_array, st.lists(_SCALAR, max_size=3)),
                   st.builds(_kvlist, st.lists(st.tuples(st.sampled_from(KEYS), _SCALAR), max_size=3)))
_ATTRS = st.lists(st.tuples(st.sampled_from(KEYS), _VALUE), max_size=12)
_SESSION = st.sampled_from(("s-1", "s-2", ""))
_TIME = st.one_of(st.integers(min_value=0, max_value=2**64 - 1), st.just(1_767_225_600_000_000_000))
_ID16 = st.one_of(st.binary(min_size=16, max_size=16), st.binary(max_size=20), st.just(b"\x01" * 16))
_ID8 = st.one_of(st.binary(min_size=8, max_size=8), st.binary(max_size=10), st.just(b"\x02" * 8))


def _attrs(pairs: list[tuple[str, AnyValue]], session: str) -> list[KeyValue]:
    out = [KeyValue(key=k, value=v) for k, v in pairs]
    if session:
        out.append(KeyValue(key="session.id", value=AnyValue(string_value=session)))
    return out


@st.composite
def log_requests(draw: Any, times: st.SearchStrategy[int] = _TIME) -> ExportLogsServiceRequest:
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.extend(_attrs(draw(_ATTRS), draw(_SESSION)))
    sl = rl.scope_logs.add()
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        name = draw(st.sampled_from(EVENT_NAMES))
        rec = LogRecord(time_unix_nano=draw(times), observed_time_unix_nano=draw(times),
                        body=draw(st.one_of(st.just(AnyValue(string_value=name)), _VALUE)))
        rec.attributes.extend(_attrs(draw(_ATTRS), draw(_SESSION)))
        rec.attributes.append(KeyValue(key="event.name", value=AnyValue(string_value=name.split(".")[-1])))
        if draw(st.booleans()):
            rec.trace_id, rec.span_id = draw(_ID16), draw(_ID8)
        sl.log_records.append(rec)
    return req


@st.composite
def trace_requests(draw: Any, times: st.SearchStrategy[int] = _TIME) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.extend(_attrs(draw(_ATTRS), draw(_SESSION)))
    ss = rs.scope_spans.add()
    trace_id = draw(_ID16)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        span = Span(trace_id=trace_id, span_id=draw(_ID8), parent_span_id=draw(st.one_of(st.just(b""), _ID8)),
                    name=draw(st.sampled_from(SPAN_NAMES)), kind=draw(st.integers(min_value=0, max_value=9)),
                    start_time_unix_nano=draw(times), end_time_unix_nano=draw(times))
        span.attributes.extend(_attrs(draw(_ATTRS), draw(_SESSION)))
        span.status.code = draw(st.integers(min_value=0, max_value=5))
        if draw(st.booleans()):
            event = span.events.add(name=draw(st.sampled_from(EVENT_NAMES)), time_unix_nano=draw(times))
            event.attributes.extend(_attrs(draw(_ATTRS), ""))
        ss.spans.append(span)
    return req


@st.composite
def metric_requests(draw: Any, times: st.SearchStrategy[int] = _TIME) -> ExportMetricsServiceRequest:
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.extend(_attrs(draw(_ATTRS), draw(_SESSION)))
    sm = rm.scope_metrics.add()
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        metric = Metric(name=draw(st.sampled_from(METRIC_NAMES)))
        kind = draw(st.sampled_from(("sum", "gauge", "histogram")))
        for _ in range(draw(st.integers(min_value=0, max_value=3))):
            attrs = _attrs(draw(_ATTRS), draw(_SESSION))
            start, time_ns = draw(times), draw(times)
            if kind == "histogram":
                point = metric.histogram.data_points.add(start_time_unix_nano=start, time_unix_nano=time_ns,
                                                          count=draw(st.integers(min_value=0, max_value=2**64 - 1)),
                                                          sum=draw(st.floats(allow_nan=True)))
                point.attributes.extend(attrs)
                metric.histogram.aggregation_temporality = draw(st.integers(min_value=0, max_value=3))
                continue
            number = NumberDataPoint(start_time_unix_nano=start, time_unix_nano=time_ns)
            if draw(st.booleans()):
                number.as_int = draw(_INT64)
            else:
                number.as_double = draw(st.floats(allow_nan=True, allow_infinity=True))
            number.attributes.extend(attrs)
            if kind == "sum":
                metric.sum.data_points.append(number)
                metric.sum.aggregation_temporality = draw(st.integers(min_value=0, max_value=3))
                metric.sum.is_monotonic = draw(st.booleans())
            else:
                metric.gauge.data_points.append(number)
        sm.metrics.append(metric)
    return req


def requests(times: st.SearchStrategy[int] = _TIME) -> st.SearchStrategy[tuple[str, Any]]:
    """(path, request) of any signal, its times drawn from ``times``."""
    return st.one_of(st.tuples(st.just("/v1/logs"), log_requests(times)),
                     st.tuples(st.just("/v1/traces"), trace_requests(times)),
                     st.tuples(st.just("/v1/metrics"), metric_requests(times)))


REQUESTS = requests()


def one_start_per_span(sent: list[tuple[str, Any]]) -> bool:
    """Whether no span id is sent again with another start time. The Store keeps such a span once (the last
    write), the analytics history twice (its spans are keyed by their start, history_schema): exporters never
    resend a span with another start, so tests comparing the two leave such payloads out."""
    starts: dict[bytes, set[int]] = {}
    for path, message in sent:
        if path == "/v1/traces":
            for rs in message.resource_spans:
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        starts.setdefault(span.trace_id + span.span_id, set()).add(span.start_time_unix_nano)
    return all(len(s) == 1 for s in starts.values())
