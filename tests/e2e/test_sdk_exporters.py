"""End to end: the official OpenTelemetry Python SDK exporters, shaped like Claude Code, against a real server."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

from opentelemetry._logs import LogRecord
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import Counter, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.conftest import Server

SESSION = "sess-e2e-1"
MODEL = "claude-sonnet-4-5-20250929"
RESOURCE = Resource.create({"service.name": "claude-code", "service.version": "2.1.0", "process.cwd": "/work/repo"})
COMMON = {"session.id": SESSION, "user.id": "user-1", "organization.id": "acme-org", "terminal.type": "vscode"}


def get(server: Server, path: str) -> Any:
    with urllib.request.urlopen(server.url + path, timeout=10) as r:
        return json.loads(r.read())


def send_traces(server: Server) -> tuple[str, str]:
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{server.url}/v1/traces")))
    tracer = provider.get_tracer("com.anthropic.claude_code")
    with tracer.start_as_current_span("claude_code.interaction", attributes={**COMMON}) as root:
        with tracer.start_as_current_span("claude_code.llm_request", attributes={
            **COMMON, "gen_ai.system": "anthropic", "gen_ai.request.model": MODEL, "gen_ai.response.id": "msg_01",
            "input_tokens": 1200, "output_tokens": 300, "cache_read_tokens": 5000, "cache_creation_tokens": 100,
        }):
            time.sleep(0.01)
        with tracer.start_as_current_span("claude_code.tool", attributes={
            **COMMON, "tool_name": "Bash", "tool_use_id": "toolu_01"}):
            with tracer.start_as_current_span("claude_code.tool.blocked_on_user", attributes={
                **COMMON, "decision": "accept", "source": "user_temporary", "duration_ms": 1500}):
                pass
            with tracer.start_as_current_span("claude_code.tool.execution", attributes={**COMMON}):
                pass
        trace_id = format(root.get_span_context().trace_id, "032x")
    provider.shutdown()
    return trace_id, "msg_01"


def send_logs(server: Server, now: int, compression: Compression = Compression.Gzip) -> None:
    """Events stamped ``now``: the same ``now`` twice is a true replay of the same records."""
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(SimpleLogRecordProcessor(
        OTLPLogExporter(endpoint=f"{server.url}/v1/logs", compression=compression)))
    logger = provider.get_logger("com.anthropic.claude_code.events")

    def emit(name: str, **attrs: Any) -> None:
        # Claude Code sends numbers as strings and the event name both as body and attribute.
        logger.emit(LogRecord(timestamp=now, body=f"claude_code.{name}",
                              attributes={**COMMON, "event.name": name, **attrs}))

    emit("user_prompt", prompt="deploy with key AKIAIOSFODNN7EXAMPLE please", prompt_length="44")
    emit("api_request", model=MODEL, request_id="req_01", input_tokens="1200", output_tokens="300",
         cache_read_tokens="5000", cache_creation_tokens="100", cost_usd="0.0123", duration_ms="2100")
    emit("tool_decision", tool_name="Bash", tool_use_id="toolu_01", decision="accept", source="user_temporary")
    emit("tool_result", tool_name="Bash", tool_use_id="toolu_01", success="true", duration_ms="350",
         tool_parameters='{"bash_command": "git status"}')
    emit("api_error", model=MODEL, error="overloaded", status_code="529", attempt="10")
    provider.shutdown()


class Metrics:
    """Claude Code's counters: the delta interval opens when the provider starts and closes at export."""

    def __init__(self, server: Server) -> None:
        exporter = OTLPMetricExporter(endpoint=f"{server.url}/v1/metrics",
                                  preferred_temporality={Counter: AggregationTemporality.DELTA})
        reader = PeriodicExportingMetricReader(exporter, export_interval_millis=60_000)
        self.provider = MeterProvider(resource=RESOURCE, metric_readers=[reader])
        meter = self.provider.get_meter("com.anthropic.claude_code")
        self.tokens = meter.create_counter("claude_code.token.usage", unit="tokens")
        self.cost = meter.create_counter("claude_code.cost.usage", unit="USD")
        self.lines = meter.create_counter("claude_code.lines_of_code.count")
        self.commits = meter.create_counter("claude_code.commit.count")

    def send(self) -> None:
        tokens, cost, lines, commits = self.tokens, self.cost, self.lines, self.commits
        for kind, n in (("input", 1200), ("output", 300), ("cacheRead", 5000), ("cacheCreation", 100)):
            tokens.add(n, {**COMMON, "model": MODEL, "type": kind})
        cost.add(0.0123, {**COMMON, "model": MODEL})
        lines.add(42, {**COMMON, "type": "added"})
        lines.add(7, {**COMMON, "type": "removed"})
        commits.add(1, {**COMMON})
        self.provider.force_flush()
        self.provider.shutdown()


def wait_for(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_claude_code_shaped_signals_join_into_one_session(server: Server) -> None:
    metrics = Metrics(server)
    trace_id, _ = send_traces(server)
    send_logs(server, time.time_ns())
    metrics.send()

    session = get(server, f"/api/observatory/sessions/{SESSION}")
    assert session["source_type"] == "claude_code"
    assert session["workspace"] == "/work/repo"
    assert session["user_id"] == "user-1"
    assert session["models"] == [MODEL]

    summary = get(server, f"/api/observatory/sessions/{SESSION}/metrics")
    # One LLM call, reported by an event, a span and metric points, counts once.
    assert summary["turn_count"] == 1
    assert summary["tokens_in"] == 1200
    assert summary["tokens_out"] == 300
    assert summary["cache_read_tokens"] == 5000
    assert summary["cache_creation_tokens"] == 100
    assert summary["total_cost_usd"] == 0.0123  # provided cost wins over computed
    assert summary["cache_savings_usd"] > 0
    assert summary["lines_added"] == 42 and summary["lines_removed"] == 7
    assert summary["commit_count"] == 1
    assert summary["tool_calls"] == 1
    assert summary["error_count"] == 1  # the api_error event
    assert summary["tokens_from_metrics"] is False

    calls = get(server, f"/api/observatory/sessions/{SESSION}/llm-calls")["llm_calls"]
    assert len(calls) == 1
    call = calls[0]
    assert call["source"] == "event+span"
    assert call["request_id"] == "req_01" and call["response_id"] == "msg_01"
    assert call["trace_id"] == trace_id
    # Computed at list price: 1200*3 + 300*15 + 5000*0.3 + 100*3.75 per million.
    assert abs(call["computed_cost_usd"] - (1200 * 3 + 300 * 15 + 5000 * 0.3 + 100 * 3.75) / 1e6) < 1e-9
    assert call["cost_usd"] == 0.0123

    tools = get(server, f"/api/observatory/sessions/{SESSION}/tools")["tools"]
    assert len(tools) == 1
    tool = tools[0]
    assert tool["tool_use_id"] == "toolu_01" and tool["tool_name"] == "Bash"
    assert tool["success"] is True and tool["decision"] == "accept"
    assert tool["decision_source"] == "user_temporary" and tool["approval_wait_ms"] == 1500
    assert tool["trace_id"] == trace_id

    trace = get(server, f"/api/observatory/traces/{trace_id}")
    assert trace["span_count"] == 5
    assert trace["root_span"]["name"] == "claude_code.interaction"
    llm_span = next(s for s in trace["spans"] if s["name"] == "claude_code.llm_request")
    assert llm_span["model"] == MODEL and llm_span["provider"] == "claude" and llm_span["tokens_in"] == 1200
    traces = get(server, "/api/observatory/traces")["traces"]
    assert [t["trace_id"] for t in traces] == [trace_id]
    assert traces[0]["root_span_name"] == "claude_code.interaction"
    assert traces[0]["source_type"] == "claude_code"

    events = get(server, f"/api/observatory/sessions/{SESSION}/events")["events"]
    prompt = next(e for e in events if e["name"] == "claude_code.user_prompt")
    assert "AKIAIOSFODNN7EXAMPLE" not in prompt["attributes"]["prompt"]
    assert "[REDACTED:aws_access_key]" in prompt["attributes"]["prompt"]

    points = get(server, f"/api/observatory/telemetry/metrics?session_id={SESSION}&name=claude_code.token.usage")
    assert points["count"] == 4

    # The aggregate worker (local outbox bus) recomputes the session rollup from the same facts.
    rolled = wait_for(lambda: get(server, f"/api/observatory/sessions/{SESSION}")["summary"])
    assert rolled is not None


def test_replaying_every_signal_changes_nothing(server: Server) -> None:
    send_traces(server)
    now = time.time_ns()
    send_logs(server, now, compression=Compression.NoCompression)
    first = get(server, f"/api/observatory/sessions/{SESSION}/metrics")
    first_calls = get(server, f"/api/observatory/sessions/{SESSION}/llm-calls")
    send_logs(server, now, compression=Compression.NoCompression)  # the same records again
    again = get(server, f"/api/observatory/sessions/{SESSION}/metrics")
    assert again["turn_count"] == first["turn_count"] == 1
    assert again["tokens_in"] == first["tokens_in"]
    assert again["total_cost_usd"] == first["total_cost_usd"]
    assert get(server, f"/api/observatory/sessions/{SESSION}/llm-calls") == first_calls
    assert get(server, f"/api/observatory/sessions/{SESSION}/events")["count"] == 5


def test_metrics_only_session_gets_tokens_and_cost_from_metrics(server: Server) -> None:
    Metrics(server).send()
    summary = get(server, f"/api/observatory/sessions/{SESSION}/metrics")
    assert summary["turn_count"] == 0
    assert summary["tokens_in"] == 1200 and summary["tokens_out"] == 300
    assert summary["cache_read_tokens"] == 5000
    assert abs(summary["total_cost_usd"] - 0.0123) < 1e-12
    assert summary["tokens_from_metrics"] is True
