"""End to end: a chain's executor environment configures the OpenTelemetry SDK, whose spans reach a real server
already linked to the chain and stage; the executor then reports its stage metrics (once, under a key)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.conftest import Server

API = "/api/observatory"
MODEL = "claude-sonnet-4-5-20250929"


def request(server: Server, method: str, path: str, body: Any = None, **headers: str) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(server.url + API + path, data=data, method=method,
                                 headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as exc:  # keep the server's error message in the assertion
        raise AssertionError(f"{method} {path}: {exc.code} {exc.read().decode()}") from None


def wait_for(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def run_executor(server: Server, resource: Resource, turns: int) -> None:
    """What an agent does under the chain's environment: one run span with an LLM span per turn."""
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{server.url}/v1/traces")))
    tracer = provider.get_tracer("executor")
    with tracer.start_as_current_span("agent.run"):
        for turn in range(turns):
            with tracer.start_as_current_span("llm.request", attributes={
                "gen_ai.system": "anthropic", "gen_ai.request.model": MODEL, "input_tokens": 100 * (turn + 1),
                "output_tokens": 10 * (turn + 1)}):
                pass
    provider.shutdown()


def test_env_links_executor_spans_to_the_stage(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    chain = request(server, "POST", "/chains", {"source_type": "github_issue", "github_repo": "octo/repo",
                                                "github_issue_number": 12, "workspace_path": "/src/repo"})
    stage = request(server, "POST", f"/chains/{chain['id']}/stages",
                    {"agent_id": "sprint-executor", "task_id": "task-e2e", "message_id": "msg:1@inbox"})
    request(server, "PUT", f"/stages/{stage['id']}/status", {"status": "running"})
    env = request(server, "GET", f"/chains/{chain['id']}/env?stage_id={stage['id']}")["env"]

    # The executor's process: its SDK reads the resource from OTEL_RESOURCE_ATTRIBUTES.
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    resource = Resource.create({"service.name": "claude-code"})
    assert resource.attributes["observatory.chain_id"] == chain["id"]
    assert resource.attributes["observatory.stage_id"] == stage["id"]
    assert resource.attributes["observatory.message_id"] == "msg:1@inbox"  # percent-decoded by the SDK
    run_executor(server, resource, turns=3)

    page = request(server, "GET", f"/stages/{stage['id']}/spans")
    assert page["total"] == 4 and len(page["spans"]) == 4
    assert all((s["chain_id"], s["stage_id"]) == (chain["id"], stage["id"]) for s in page["spans"])
    llm = [s for s in page["spans"] if s["name"] == "llm.request"]
    span_tokens_in, span_tokens_out = sum(s["tokens_in"] for s in llm), sum(s["tokens_out"] for s in llm)
    assert (span_tokens_in, span_tokens_out) == (600, 60)
    assert len(request(server, "GET", "/spans?task_id=task-e2e")["spans"]) == 4  # the task id came along too

    # Stage amounts are what the executor reports (linked spans are its detail): none yet.
    before = request(server, "GET", f"/stages/{stage['id']}")
    assert (before["tokens_in"], before["cost"], before["turns"]) == (0, 0, 0)
    report = {"cost": 0.042, "tokens_in": span_tokens_in, "tokens_out": span_tokens_out, "turns": len(llm),
              "tool_calls": 0, "duration_ms": 1500}
    for _ in range(2):  # a retried report applies once
        reported = request(server, "POST", f"/stages/{stage['id']}/metrics", report,
                           **{"Idempotency-Key": f"run-{stage['id']}"})
    assert (reported["tokens_in"], reported["tokens_out"], reported["turns"]) == (600, 60, 3)
    request(server, "PUT", f"/stages/{stage['id']}/status", {"status": "completed"})
    totals = request(server, "GET", f"/chains/{chain['id']}?include_spans=true")
    assert (totals["total_tokens"], totals["total_turns"], totals["total_cost"]) == (660, 3, 0.042)
    assert totals["stages_completed"] == 1 and len(totals["stages"][0]["spans"]) == 4

    # A span its executor emitted without the environment is linked afterwards by id.
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES")
    provider = TracerProvider(resource=Resource.create({"service.name": "helper"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{server.url}/v1/traces")))
    with provider.get_tracer("helper").start_as_current_span("helper.step") as span:
        span_id = format(span.get_span_context().span_id, "016x")
    provider.shutdown()
    # the aggregate worker makes an ingested span findable by id moments after ingest
    assert wait_for(lambda: _exists(server, f"/spans/{span_id}"))
    linked = request(server, "POST", f"/spans/{span_id}/link", {"chain_id": chain["id"], "stage_id": stage["id"]})
    assert (linked["chain_id"], linked["stage_id"]) == (chain["id"], stage["id"])
    assert request(server, "GET", f"/stages/{stage['id']}/spans")["total"] == 5


def _exists(server: Server, path: str) -> bool:
    try:
        with urllib.request.urlopen(server.url + API + path, timeout=10) as r:
            return r.status == 200
    except urllib.error.HTTPError:
        return False
