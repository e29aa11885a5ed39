"""Ingest through the real SQLite store: orphan-span task linking, repricing after a price change, span filter."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from core.adapters.sqlite import SqliteStore
from core.ingest import IngestService
from core.models import SpanQuery
from core.otlp.codec import Signal
from core.pricing import PriceTable
from core.reprice import reprice
from core.span_filter import SpanFilter
from tests.payloads import kv, log_request

ORG = "org-a"
T0 = 1760434200000000000
_PRICES = PriceTable.load()


def _service(store: SqliteStore, span_filter: SpanFilter | None = None,
             prices: PriceTable | None = None) -> IngestService:
    return IngestService(store=store, prices=prices or _PRICES, span_filter=span_filter or SpanFilter.from_env({}))


def _spans(specs: list[tuple[str, dict[str, Any]]], service: str = "agent-runner",
           trace_id: bytes | None = None, start: int = T0) -> ExportTraceServiceRequest:
    """One resource, one scope; each spec is (span name, attributes); spans 1 ms apart, 1 ms long."""
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.append(kv("service.name", service))
    ss = rs.scope_spans.add()
    tid = trace_id or os.urandom(16)
    for n, (name, attrs) in enumerate(specs):
        span = Span(trace_id=tid, span_id=os.urandom(8), name=name, kind=Span.SPAN_KIND_INTERNAL,
                    start_time_unix_nano=start + n * 1_000_000, end_time_unix_nano=start + (n + 1) * 1_000_000)
        span.attributes.extend(kv(k, v) for k, v in attrs.items())
        ss.spans.append(span)
    return req


def _ingest(service: IngestService, signal: Signal, request: ExportTraceServiceRequest | ExportLogsServiceRequest,
            org: str = ORG) -> int:
    body = request.SerializeToString()
    result = service.ingest(org, signal, request, hashlib.sha256(body).hexdigest())
    assert result.rejected == 0, result.message
    return result.accepted


def _tasks(store: SqliteStore, session_id: str, org: str = ORG) -> dict[str, tuple[str | None, str | None]]:
    return {v.name: (v.task_id, v.agent_assignment_id)
            for v in store.list_spans(org, SpanQuery(session_id=session_id))}


# -- (a) orphan linking ------------------------------------------------------------------------------------------
def test_execute_span_links_earlier_and_later_orphan_spans_of_its_session(store: SqliteStore) -> None:
    service = _service(store)
    session, task = "sess-orphan", "task-7e57ab1e"
    _ingest(service, "traces", _spans([("agent.step", {"session.id": session}),
                                       ("tool.run", {"session.id": session})], start=T0))
    _ingest(service, "traces", _spans([("agent.step", {"session.id": "sess-other"})], start=T0))
    assert _tasks(store, session) == {"agent.step": (None, None), "tool.run": (None, None)}

    _ingest(service, "traces", _spans([("claude.execute", {"session.id": session, "task.id": task,
                                                           "assignment_id": "asg-9"})], start=T0 + 10**9))
    assert _tasks(store, session) == {"agent.step": (task, "asg-9"), "tool.run": (task, "asg-9"),
                                      "claude.execute": (task, "asg-9")}

    _ingest(service, "traces", _spans([("late.step", {"session.id": session})], start=T0 + 2 * 10**9))
    assert _tasks(store, session)["late.step"] == (task, "asg-9")
    # Other sessions are not touched.
    assert _tasks(store, "sess-other") == {"agent.step": (None, None)}


def test_linking_keeps_a_span_task_and_stays_inside_its_org(store: SqliteStore) -> None:
    service = _service(store)
    session = "sess-shared-id"
    _ingest(service, "traces", _spans([("agent.step", {"session.id": session})]), org="org-b")
    _ingest(service, "traces", _spans([("own.task", {"session.id": session, "task.id": "task-0000aaaa"})]))
    _ingest(service, "traces", _spans([("claude.execute", {"session.id": session, "task.id": "task-1111bbbb"})],
                                      start=T0 + 10**9))
    _ingest(service, "traces", _spans([("own.later", {"session.id": session, "task.id": "task-2222cccc"})],
                                      start=T0 + 2 * 10**9))
    assert _tasks(store, session) == {"own.task": ("task-0000aaaa", None), "claude.execute": ("task-1111bbbb", None),
                                      "own.later": ("task-2222cccc", None)}
    assert _tasks(store, session, org="org-b") == {"agent.step": (None, None)}


# -- (b) reprice ---------------------------------------------------------------------------------------------------
def _override(tmp_path: Path) -> str:
    path = tmp_path / "prices.override.json"
    path.write_text(json.dumps({"version": 1, "models": {"acme-coder-1": {
        "input": 2.0, "output": 8.0, "cache_read": 0.2, "cache_write": 2.5,
        "source": "https://example.com/acme/pricing", "as_of": "2026-01-15"}}}))
    return str(path)


def test_reprice_prices_calls_of_a_newly_priced_model(store: SqliteStore, tmp_path: Path) -> None:
    session = "sess-reprice"
    service = _service(store)
    # A GenAI semconv chat span: 1500 input tokens including 500 cache reads -> tokens_in 1000.
    _ingest(service, "traces", _spans([("chat acme-coder-1", {
        "session.id": session, "gen_ai.operation.name": "chat", "gen_ai.provider.name": "acme",
        "gen_ai.request.model": "acme-coder-1", "gen_ai.response.id": "resp-acme-1",
        "gen_ai.usage.input_tokens": 1500, "gen_ai.usage.cache_read.input_tokens": 500,
        "gen_ai.usage.output_tokens": 200})]))
    # A Claude Code event of the same model with a provided cost, and a priced model as a control.
    logs = log_request([
        {"event.name": "api_request", "session.id": session, "model": "acme-coder-1", "input_tokens": "100",
         "output_tokens": "10", "cost_usd": "0.5", "request_id": "req-acme-2"},
        {"event.name": "api_request", "session.id": session, "model": "claude-sonnet-4-5", "input_tokens": "1000",
         "output_tokens": "100", "request_id": "req-sonnet-3"},
    ])
    _ingest(service, "logs", logs)

    before = {c.call_key: c for c in store.session_llm_calls(ORG, session)}
    assert set(before) == {"resp:resp-acme-1", "req:req-acme-2", "req:req-sonnet-3"}
    acme, provided, sonnet = before["resp:resp-acme-1"], before["req:req-acme-2"], before["req:req-sonnet-3"]
    assert (acme.tokens_in, acme.cache_read_tokens, acme.tokens_out) == (1000, 500, 200)
    assert (acme.computed_cost_usd, acme.unpriced, acme.cost_usd) == (None, True, 0)
    assert (provided.computed_cost_usd, provided.unpriced, provided.cost_usd) == (None, True, 0.5)
    assert sonnet.computed_cost_usd == pytest.approx(0.0045) and not sonnet.unpriced

    counts = reprice(store, PriceTable.load(_override(tmp_path)))
    assert counts == {"llm_calls": 3, "spans": 1, "unpriced": 0}

    after = {c.call_key: c for c in store.session_llm_calls(ORG, session)}
    acme = after["resp:resp-acme-1"]
    # (1000 * 2.0 + 200 * 8.0 + 500 * 0.2) / 1e6; savings 500 * (2.0 - 0.2) / 1e6
    assert acme.computed_cost_usd == pytest.approx(0.0037) and acme.cost_usd == pytest.approx(0.0037)
    assert acme.cache_savings_usd == pytest.approx(0.0009)
    assert acme.unpriced is False
    provided = after["req:req-acme-2"]
    assert provided.computed_cost_usd == pytest.approx(0.00028) and provided.unpriced is False
    assert provided.cost_usd == 0.5  # a provided cost still wins
    assert after["req:req-sonnet-3"].computed_cost_usd == pytest.approx(0.0045)

    (span,) = store.list_spans(ORG, SpanQuery(session_id=session))
    assert span.computed_cost_usd == pytest.approx(0.0037) and span.cost_usd == pytest.approx(0.0037)
    assert span.unpriced is False


def test_reprice_without_the_price_keeps_the_call_unpriced(store: SqliteStore) -> None:
    session = "sess-still-unpriced"
    _ingest(_service(store), "logs", log_request([
        {"event.name": "api_request", "session.id": session, "model": "acme-coder-1", "input_tokens": "100",
         "output_tokens": "10", "request_id": "req-acme-9"}]))
    assert reprice(store, _PRICES) == {"llm_calls": 1, "spans": 0, "unpriced": 1}
    (call,) = store.session_llm_calls(ORG, session)
    assert (call.computed_cost_usd, call.unpriced, call.cost_usd) == (None, True, 0)


# -- (c) span filter -----------------------------------------------------------------------------------------------
def _stored_names(store: SqliteStore, trace_id: bytes) -> set[str]:
    return {v.name for v in store.list_spans(ORG, SpanQuery(trace_id=trace_id.hex()))}


def test_span_filter_deny_list_and_default_health_check(store: SqliteStore) -> None:
    service = _service(store, SpanFilter.from_env({"OBSERVATORY_SPAN_FILTER_DENY": "noisy.*"}))
    tid = os.urandom(16)
    accepted = _ingest(service, "traces", _spans([("noisy.x", {}), ("noisy.poll", {}), ("/health", {}),
                                                  ("work.step", {}), ("not.noisy", {})], trace_id=tid))
    assert accepted == 2
    assert _stored_names(store, tid) == {"work.step", "not.noisy"}


def test_span_filter_allow_list_lets_a_default_denied_span_through(store: SqliteStore) -> None:
    default_tid, allowed_tid = os.urandom(16), os.urandom(16)
    _ingest(_service(store), "traces", _spans([("/health", {}), ("work.step", {})], trace_id=default_tid))
    assert _stored_names(store, default_tid) == {"work.step"}

    service = _service(store, SpanFilter.from_env({"OBSERVATORY_SPAN_FILTER_ALLOW": "/health"}))
    _ingest(service, "traces", _spans([("/health", {}), ("/api/health", {}), ("work.step", {})],
                                      trace_id=allowed_tid))
    assert _stored_names(store, allowed_tid) == {"/health", "work.step"}
