"""End to end on the emulated cloud: every function in its own process behind the router, Pub/Sub push to the
workers; OTLP round-trips, aggregates after the worker ran, redelivery, dead letters and retention."""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from opentelemetry._logs import LogRecord
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import Counter, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from core.ports.bus import TELEMETRY_INGESTED
from core.workers import MAINTENANCE, REASON_ATTRIBUTE, WORKER_ATTRIBUTE
from emulator import pubsub_setup
from emulator.cloud_stack import CloudStack
from emulator.gcloud import Emulator
from tests.cloud.conftest import pull
from tests.payloads import gemini_json, kv, trace_request

T = TypeVar("T")
API = "/api/observatory"
MODEL = "claude-sonnet-4-5-20250929"
RESOURCE = Resource.create({"service.name": "claude-code", "service.version": "2.1.0", "process.cwd": "/work/repo"})
PB = {"Content-Type": "application/x-protobuf"}
DAY_NS = 86_400 * 10**9


@pytest.fixture(scope="module")
def stack(pubsub_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudStack]:
    """One stack for the module over the session's Pub/Sub emulator (a project of its own)."""
    work = tmp_path_factory.mktemp("cloud")
    cloud = CloudStack(store="sqlite", data_dir=work / "data", log_dir=work, pubsub=pubsub_emulator,
                       start_firestore=False,
                       env={"OBSERVATORY_API_KEYS": "", "OBSERVATORY_RETENTION_SPANS_DAYS": "30"})
    cloud.start()
    try:
        yield cloud
    finally:
        cloud.stop()
    assert all(not p.running() for p in cloud.processes.values())


@pytest.fixture
def pubsub_env(stack: CloudStack, monkeypatch: pytest.MonkeyPatch) -> CloudStack:
    """Pub/Sub clients built in the test talk to the stack's emulator and project."""
    for key, value in stack.client_env().items():
        monkeypatch.setenv(key, value)
    return stack


def request(stack: CloudStack, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(stack.url + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def get(stack: CloudStack, path: str) -> Any:
    status, body = request(stack, "GET", path)
    assert status == 200, (path, status, body)
    return json.loads(body)


def wait_for(check: Callable[[], T], timeout_s: float = 15.0) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def summary(stack: CloudStack, session: str) -> Any:
    status, body = request(stack, "GET", f"{API}/sessions/{session}")
    return json.loads(body).get("summary") if status == 200 else None


def metrics_updated(stack: CloudStack, session: str) -> list[Any]:
    page = get(stack, f"{API}/events?types=metrics.updated&limit=1000")
    return [e for e in page["events"] if e["subject_id"] == session]


def send_claude_code_session(stack: CloudStack, session: str) -> str:
    """Claude Code's three signals through the SDK exporters, all at the router's one base URL."""
    common = {"session.id": session, "user.id": "user-1", "organization.id": "acme-org"}
    tracer_provider = TracerProvider(resource=RESOURCE)
    tracer_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{stack.url}/v1/traces")))
    tracer = tracer_provider.get_tracer("com.anthropic.claude_code")
    with tracer.start_as_current_span("claude_code.interaction", attributes=common) as root:
        with tracer.start_as_current_span("claude_code.llm_request", attributes={
            **common, "gen_ai.system": "anthropic", "gen_ai.request.model": MODEL, "gen_ai.response.id": "msg_01",
            "input_tokens": 1200, "output_tokens": 300, "cache_read_tokens": 5000, "cache_creation_tokens": 100,
        }):
            pass
        with tracer.start_as_current_span("claude_code.tool", attributes={
                **common, "tool_name": "Bash", "tool_use_id": "toolu_01"}):
            pass
        trace_id = format(root.get_span_context().trace_id, "032x")
    tracer_provider.shutdown()

    logger_provider = LoggerProvider(resource=RESOURCE)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{stack.url}/v1/logs")))
    logger = logger_provider.get_logger("com.anthropic.claude_code.events")
    now = time.time_ns()
    for name, attrs in (("api_request", {"model": MODEL, "request_id": "req_01", "input_tokens": "1200",
                                         "output_tokens": "300", "cache_read_tokens": "5000",
                                         "cache_creation_tokens": "100", "cost_usd": "0.0123"}),
                        ("tool_result", {"tool_name": "Bash", "tool_use_id": "toolu_01", "success": "true",
                                         "duration_ms": "350"})):
        logger.emit(LogRecord(timestamp=now, body=f"claude_code.{name}",
                              attributes={**common, "event.name": name, **attrs}))
    logger_provider.shutdown()

    exporter = OTLPMetricExporter(endpoint=f"{stack.url}/v1/metrics",
                                  preferred_temporality={Counter: AggregationTemporality.DELTA})
    meter_provider = MeterProvider(resource=RESOURCE, metric_readers=[
        PeriodicExportingMetricReader(exporter, export_interval_millis=60_000)])
    lines = meter_provider.get_meter("com.anthropic.claude_code").create_counter("claude_code.lines_of_code.count")
    lines.add(42, {**common, "type": "added"})
    meter_provider.force_flush()
    meter_provider.shutdown()
    return trace_id


def post_traces(stack: CloudStack, req: ExportTraceServiceRequest) -> None:
    status, body = request(stack, "POST", "/v1/traces", req.SerializeToString(), PB)
    assert status == 200, body


# ---------------------------------------------------------------------------------------------------------


def test_the_router_forwards_by_the_route_table(stack: CloudStack) -> None:
    assert get(stack, "/healthz")["status"] == "ok"
    status, body = request(stack, "GET", "/nowhere")
    assert status == 404 and "error" in json.loads(body)
    status, body = request(stack, "PATCH", f"{API}/workspaces")
    assert status == 405 and "error" in json.loads(body)
    status, _ = request(stack, "GET", "/v1/traces")  # OTLP answers its own 405
    assert status == 405
    assert "paths" in get(stack, f"{API}/openapi.json")
    assert set(stack.processes) >= {"ingest_traces", "query", "chains", "aggregate", "export_clickhouse", "retention"}
    assert len({p.proc.pid for p in stack.processes.values()}) == len(stack.processes)  # one process each


def test_otlp_round_trips_through_the_router(stack: CloudStack) -> None:
    trace_id = send_claude_code_session(stack, "cloud-otlp-1")
    trace = get(stack, f"{API}/traces/{trace_id}")
    assert trace["span_count"] == 3 and trace["root_span"]["name"] == "claude_code.interaction"
    (call,) = get(stack, f"{API}/sessions/cloud-otlp-1/llm-calls")["llm_calls"]
    assert call["source"] == "event+span" and call["trace_id"] == trace_id and call["cost_usd"] == 0.0123
    (tool,) = get(stack, f"{API}/sessions/cloud-otlp-1/tools")["tools"]
    assert tool["tool_use_id"] == "toolu_01" and tool["success"] is True
    assert get(stack, f"{API}/telemetry/metrics?session_id=cloud-otlp-1")["count"] == 1
    for doc in gemini_json("cloud-gemini-1", time.time_ns()).values():  # OTLP/JSON on the one URL `/`
        status, body = request(stack, "POST", "/", json.dumps(doc).encode(), {"Content-Type": "application/json"})
        assert status == 200, body
    assert get(stack, f"{API}/sessions/cloud-gemini-1")["source_type"] == "gemini_cli"


def test_a_sessions_aggregates_appear_after_the_aggregate_worker_ran(stack: CloudStack) -> None:
    send_claude_code_session(stack, "cloud-agg-1")
    # Each span is its own export (SimpleSpanProcessor), aggregated as its message arrives: the rollup grows to all
    # three, and a rollup of fewer spans computed earlier never replaces it.
    rolled = wait_for(lambda: (s := summary(stack, "cloud-agg-1")) is not None and s["span_count"] == 3 and s)
    assert rolled and rolled["span_count"] == 3
    metrics = get(stack, f"{API}/sessions/cloud-agg-1/metrics")
    assert metrics["turn_count"] == 1 and metrics["tokens_in"] == 1200 and metrics["lines_added"] == 42
    assert wait_for(lambda: metrics_updated(stack, "cloud-agg-1"))


def test_redelivery_of_the_same_message_leaves_aggregates_unchanged(pubsub_env: CloudStack) -> None:
    stack = pubsub_env
    from google.cloud import pubsub_v1

    subscriber = pubsub_v1.SubscriberClient()
    capture = "capture-redelivery"
    subscriber.create_subscription(request={
        "name": subscriber.subscription_path(stack.project, capture),
        "topic": pubsub_v1.PublisherClient.topic_path(stack.project, TELEMETRY_INGESTED)})
    post_traces(stack, trace_request(4, attrs={"session.id": "cloud-redeliver-1"}))
    (message,) = pull(stack.project, capture, 1)
    first = wait_for(lambda: summary(stack, "cloud-redeliver-1"))
    assert first is not None and first["span_count"] == 4
    events_before = wait_for(lambda: metrics_updated(stack, "cloud-redeliver-1"))
    assert len(events_before) == 1

    # Pub/Sub redelivers under the same message id, or delivers a duplicate under another: push both.
    for message_id in (message.message_id, message.message_id, "duplicate-1"):
        body = {"message": {"data": base64.b64encode(message.data).decode(), "attributes": dict(message.attributes),
                            "messageId": message_id, "publishTime": "2026-03-01T12:00:00.000Z"},
                "subscription": f"projects/{stack.project}/subscriptions/"
                                f"{pubsub_setup.push_subscription_name('aggregate')}"}
        endpoint = pubsub_setup.push_endpoint(stack.worker_url("aggregate"), stack.project, TELEMETRY_INGESTED)
        req = urllib.request.Request(endpoint, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 200  # acknowledged
    # And once more through the topic, then a later batch as a marker that the push has moved past it.
    publisher = pubsub_v1.PublisherClient()
    publisher.publish(publisher.topic_path(stack.project, TELEMETRY_INGESTED), message.data,
                      **dict(message.attributes)).result(timeout=10)
    post_traces(stack, trace_request(1, attrs={"session.id": "cloud-redeliver-marker"}))
    assert wait_for(lambda: summary(stack, "cloud-redeliver-marker"))
    assert summary(stack, "cloud-redeliver-1") == first
    assert metrics_updated(stack, "cloud-redeliver-1") == events_before
    subscriber.delete_subscription(request={"subscription": subscriber.subscription_path(stack.project, capture)})
    subscriber.close()


def test_a_poison_message_ends_in_the_dead_letter_topic(pubsub_env: CloudStack) -> None:
    stack = pubsub_env
    from google.cloud import pubsub_v1

    publisher = pubsub_v1.PublisherClient()
    publisher.publish(publisher.topic_path(stack.project, TELEMETRY_INGESTED), b"not json {",
                      signal="traces").result(timeout=10)
    # Both workers on the topic reject it: each dead-letters its copy and acknowledges it.
    dead = pull(stack.project, pubsub_setup.inspect_subscription_name(TELEMETRY_INGESTED), 2, timeout_s=20)
    assert sorted(m.attributes[WORKER_ATTRIBUTE] for m in dead) == ["aggregate", "export_clickhouse"]
    for m in dead:
        assert m.data == b"not json {" and "not JSON" in m.attributes[REASON_ATTRIBUTE]
        assert m.attributes["signal"] == "traces"


def _aged_trace(age_days: float, n: int) -> tuple[ExportTraceServiceRequest, str]:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.append(kv("service.name", "retention-svc"))
    ss = rs.scope_spans.add()
    trace_id = os.urandom(16)
    start = time.time_ns() - int(age_days * DAY_NS)
    for i in range(n):
        ss.spans.append(Span(trace_id=trace_id, span_id=os.urandom(8), name=f"aged-{i}",
                             start_time_unix_nano=start + i, end_time_unix_nano=start + i + 1_000_000))
    return req, trace_id.hex()


def test_retention_through_the_maintenance_topic_deletes_exactly_the_expired_rows(pubsub_env: CloudStack) -> None:
    stack = pubsub_env
    from google.cloud import pubsub_v1

    expired, expired_id = _aged_trace(40, 3)
    kept, kept_id = _aged_trace(20, 2)  # inside the 30-day TTL
    fresh, fresh_id = _aged_trace(0, 2)
    for req in (expired, kept, fresh):
        post_traces(stack, req)
    assert get(stack, f"{API}/traces/{expired_id}")["span_count"] == 3
    publisher = pubsub_v1.PublisherClient()  # what Cloud Scheduler publishes: only "now"
    publisher.publish(publisher.topic_path(stack.project, MAINTENANCE), b"{}").result(timeout=10)
    assert wait_for(lambda: request(stack, "GET", f"{API}/traces/{expired_id}")[0] == 404), "expired trace kept"
    assert get(stack, f"{API}/traces/{kept_id}")["span_count"] == 2
    assert get(stack, f"{API}/traces/{fresh_id}")["span_count"] == 2
    retention_log = Path(stack.processes["retention"].log_path).read_text(errors="replace")
    assert "spans=3" in retention_log
