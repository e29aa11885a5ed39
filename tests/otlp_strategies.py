"""Hypothesis strategies for OTLP export requests in every dialect's vocabulary: the attribute keys, event, span
and metric names the normalisers read, with values of any type and size (times past 64 bits, NaN, huge numbers
as strings, ids of the wrong length) or, in plausible mode, the values real exporters send, as protobuf messages."""

from __future__ import annotations

import time
from typing import Any

from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric, NumberDataPoint
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from core.otlp.codec import Signal

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


# Plausible values: what real exporters send for the keys the normalisers read, from small pools so that records
# of one call, tool call or session meet (joins, merges and aggregates get exercised, not only refusals).
_COUNT = st.one_of(st.builds(lambda v: AnyValue(int_value=v), st.integers(min_value=0, max_value=5000)),
                   st.builds(lambda v: AnyValue(string_value=str(v)), st.integers(min_value=0, max_value=5000)))
_MONEY = st.builds(lambda v: AnyValue(double_value=v), st.floats(min_value=0, max_value=2))


def _pool(*values: str) -> st.SearchStrategy[AnyValue]:
    return st.builds(lambda v: AnyValue(string_value=v), st.sampled_from(values))


_PLAUSIBLE: dict[str, st.SearchStrategy[AnyValue]] = {
    **dict.fromkeys(("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens",
                     "input_token_count", "output_token_count", "cached_content_token_count",
                     "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.prompt_tokens",
                     "gen_ai.usage.completion_tokens", "gen_ai.usage.cache_read_input_tokens",
                     "llm.token_count.prompt", "llm.token_count.completion",
                     "llm.token_count.prompt_details.cache_read", "ailang.tokens.input", "ai.tokens_in"), _COUNT),
    **dict.fromkeys(("cost_usd", "gen_ai.usage.cost", "llm.cost", "ai.cost_usd"), _MONEY),
    "duration_ms": _COUNT,
    **dict.fromkeys(("model", "gen_ai.request.model", "gen_ai.response.model", "llm.model_name", "ailang.model",
                     "ai.model"), _pool("claude-sonnet-4-5", "claude-haiku-4-5-20251001", "gemini-2.5-pro",
                                        "gpt-5", "made-up-model")),
    **dict.fromkeys(("gen_ai.system", "gen_ai.provider.name", "llm.provider"),
                    _pool("anthropic", "claude", "gemini", "openai")),
    **dict.fromkeys(("request_id", "response_id", "gen_ai.response.id"), _pool("req-1", "req-2", "req-3")),
    **dict.fromkeys(("prompt.id", "prompt_id"), _pool("p-1", "p-2")),
    **dict.fromkeys(("tool_use_id", "gen_ai.tool.call.id"), _pool("toolu_1", "toolu_2", "toolu_3")),
    **dict.fromkeys(("tool_name", "gen_ai.tool.name", "tool.name"), _pool("Bash", "Read", "Edit")),
    "success": st.one_of(_pool("true", "false"), st.builds(lambda v: AnyValue(bool_value=v), st.booleans())),
    "decision": _pool("accept", "reject"),
    "decision_source": _pool("config", "user_temporary", "user_reject"),
    **dict.fromkeys(("task.id", "ailang.task_id", "observatory.task_id"), _pool("task-1", "task-2")),
    "type": _pool("input", "output", "cacheRead", "cacheCreation", "added", "removed", "cli", "user"),
    "user.id": _pool("u-1", "u-2"),
    "terminal.type": _pool("vscode", "tty"),
    "service.name": _pool("claude-code", "gemini-cli", "my-agent"),
}
_PLAUSIBLE_KEYS = tuple(_PLAUSIBLE) + ("prompt", "tool_input", "tool_result", "error", "response_text")
_PLAUSIBLE_PAIR = st.sampled_from(_PLAUSIBLE_KEYS).flatmap(
    lambda k: st.tuples(st.just(k), _PLAUSIBLE.get(k, st.builds(lambda v: AnyValue(string_value=v), _TEXT))))
# What a call or tool event usually carries, each key present half the time, then a few keys of any kind.
_CORE_KEYS = ("model", "input_tokens", "output_tokens", "cache_read_tokens", "cost_usd", "duration_ms",
              "request_id", "tool_name", "tool_use_id", "success", "decision")
_PLAUSIBLE_ATTRS = st.tuples(
    st.lists(st.booleans(), min_size=len(_CORE_KEYS), max_size=len(_CORE_KEYS)),
    st.tuples(*(_PLAUSIBLE[k] for k in _CORE_KEYS)),
    st.lists(_PLAUSIBLE_PAIR, max_size=4),
).map(lambda d: [(k, v) for k, keep, v in zip(_CORE_KEYS, d[0], d[1], strict=True) if keep] + d[2])
_PLAUSIBLE_EVENTS = ("claude_code.api_request", "claude_code.tool_result", "tool_decision", "claude_code.api_error",
                     "gemini_cli.api_response", "gemini_cli.tool_call", "claude_code.user_prompt")
_PLAUSIBLE_SPANS = ("claude_code.llm_request", "claude_code.tool", "claude_code.tool.blocked_on_user",
                    "claude_code.interaction", "chat claude", "execute_tool Bash", "gemini_cli.api_request")
_PLAUSIBLE_TRACES = st.sampled_from((b"\x11" * 16, b"\x12" * 16, b"\x13" * 16))


def _attrs(pairs: list[tuple[str, AnyValue]], session: str) -> list[KeyValue]:
    out = [KeyValue(key=k, value=v) for k, v in pairs]
    if session:
        out.append(KeyValue(key="session.id", value=AnyValue(string_value=session)))
    return out


_DURATION = st.integers(min_value=0, max_value=600 * 10**9)


@st.composite
def log_requests(draw: Any, times: st.SearchStrategy[int] = _TIME, plausible: bool = False
                 ) -> ExportLogsServiceRequest:
    attrs = _PLAUSIBLE_ATTRS if plausible else _ATTRS
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.extend(_attrs(draw(attrs), draw(_SESSION)))
    sl = rl.scope_logs.add()
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        name = draw(st.sampled_from(_PLAUSIBLE_EVENTS if plausible else EVENT_NAMES))
        body = AnyValue(string_value=name) if plausible else draw(st.one_of(st.just(AnyValue(string_value=name)),
                                                                             _VALUE))
        rec = LogRecord(time_unix_nano=draw(times), observed_time_unix_nano=draw(times), body=body)
        rec.attributes.extend(_attrs(draw(attrs), draw(_SESSION)))
        rec.attributes.append(KeyValue(key="event.name", value=AnyValue(string_value=name.split(".")[-1])))
        if draw(st.booleans()):
            rec.trace_id = draw(_PLAUSIBLE_TRACES if plausible else _ID16)
            rec.span_id = draw(st.binary(min_size=8, max_size=8) if plausible else _ID8)
        sl.log_records.append(rec)
    return req


@st.composite
def trace_requests(draw: Any, times: st.SearchStrategy[int] = _TIME, plausible: bool = False
                   ) -> ExportTraceServiceRequest:
    attrs = _PLAUSIBLE_ATTRS if plausible else _ATTRS
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.extend(_attrs(draw(attrs), draw(_SESSION)))
    ss = rs.scope_spans.add()
    trace_id = draw(_PLAUSIBLE_TRACES if plausible else _ID16)
    ids: list[bytes] = []
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        start = draw(times)
        if plausible:  # a fresh id, a parent among the spans before it (or none), an end after the start
            span_id = draw(st.binary(min_size=8, max_size=8).filter(lambda b: b != b"\0" * 8))
            parent = draw(st.sampled_from([b"", *ids]))
            end = start + draw(_DURATION)
        else:
            span_id, parent, end = draw(_ID8), draw(st.one_of(st.just(b""), _ID8)), draw(times)
        ids.append(span_id)
        span = Span(trace_id=trace_id, span_id=span_id, parent_span_id=parent,
                    name=draw(st.sampled_from(_PLAUSIBLE_SPANS if plausible else SPAN_NAMES)),
                    kind=draw(st.integers(min_value=0, max_value=9)),
                    start_time_unix_nano=start, end_time_unix_nano=end)
        span.attributes.extend(_attrs(draw(attrs), draw(_SESSION)))
        span.status.code = draw(st.integers(min_value=0, max_value=2 if plausible else 5))
        if draw(st.booleans()):
            event = span.events.add(name=draw(st.sampled_from(EVENT_NAMES)), time_unix_nano=draw(times))
            event.attributes.extend(_attrs(draw(attrs), ""))
        ss.spans.append(span)
    return req


@st.composite
def metric_requests(draw: Any, times: st.SearchStrategy[int] = _TIME, plausible: bool = False
                    ) -> ExportMetricsServiceRequest:
    attrs_of = _PLAUSIBLE_ATTRS if plausible else _ATTRS
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.extend(_attrs(draw(attrs_of), draw(_SESSION)))
    sm = rm.scope_metrics.add()
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        metric = Metric(name=draw(st.sampled_from(METRIC_NAMES)))
        kind = draw(st.sampled_from(("sum", "gauge", "histogram")))
        # Plausible: cumulative or delta sums of small non-negative values over an interval ending at the time.
        temporality = st.integers(min_value=1, max_value=2) if plausible else st.integers(min_value=0, max_value=3)
        for _ in range(draw(st.integers(min_value=0, max_value=3))):
            attrs = _attrs(draw(attrs_of), draw(_SESSION))
            time_ns = draw(times)
            start = time_ns - draw(_DURATION) if plausible else draw(times)
            if kind == "histogram":
                point = metric.histogram.data_points.add(
                    start_time_unix_nano=start, time_unix_nano=time_ns,
                    count=draw(st.integers(min_value=0, max_value=100 if plausible else 2**64 - 1)),
                    sum=draw(st.floats(min_value=0, max_value=1000) if plausible else st.floats(allow_nan=True)))
                point.attributes.extend(attrs)
                metric.histogram.aggregation_temporality = draw(temporality)
                continue
            number = NumberDataPoint(start_time_unix_nano=start, time_unix_nano=time_ns)
            if plausible:
                number.as_double = draw(st.floats(min_value=0, max_value=5000))
            elif draw(st.booleans()):
                number.as_int = draw(_INT64)
            else:
                number.as_double = draw(st.floats(allow_nan=True, allow_infinity=True))
            number.attributes.extend(attrs)
            if kind == "sum":
                metric.sum.data_points.append(number)
                metric.sum.aggregation_temporality = draw(temporality)
                metric.sum.is_monotonic = plausible or draw(st.booleans())
            else:
                metric.gauge.data_points.append(number)
        sm.metrics.append(metric)
    return req


def requests(times: st.SearchStrategy[int] = _TIME, plausible: bool = False
             ) -> st.SearchStrategy[tuple[str, Any]]:
    """(path, request) of any signal, its times drawn from ``times``; ``plausible``: the values, ids and
    intervals real exporters send (from small pools), else values of any type and size."""
    return st.one_of(st.tuples(st.just("/v1/logs"), log_requests(times, plausible)),
                     st.tuples(st.just("/v1/traces"), trace_requests(times, plausible)),
                     st.tuples(st.just("/v1/metrics"), metric_requests(times, plausible)))


REQUESTS = requests()
# The signal each OTLP path carries.
SIGNALS: dict[str, Signal] = {"/v1/traces": "traces", "/v1/logs": "logs", "/v1/metrics": "metrics"}

HOUR_NS = 3600 * 10**9
# Hours before "now", on a whole hour: a run's generated times fall in the same days in every zone the tests use.
RECENT_NS = time.time_ns() // HOUR_NS * HOUR_NS - 6 * HOUR_NS
RECENT_TIMES = st.one_of(st.integers(min_value=RECENT_NS - 3 * HOUR_NS, max_value=RECENT_NS + 3 * HOUR_NS),
                         st.just(RECENT_NS))
# Requests of recent times: mostly what real exporters send (so calls, tool calls and sessions meet and merge),
# some of anything.
RECENT_REQUESTS = st.lists(st.one_of(requests(RECENT_TIMES, plausible=True), requests(RECENT_TIMES)),
                           min_size=1, max_size=4)


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
