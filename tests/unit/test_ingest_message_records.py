"""The records a `telemetry-ingested` message carries for the analytics export are the records the Store kept: ingest
encodes them before taking the write lock, and again under it whenever the lookups there changed one of them."""

from __future__ import annotations

import os
import time
from typing import Any

import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from core.adapters.sqlite import SqliteStore
from core.ingest import IngestService
from core.ports.store import SessionLink
from core.pricing import PriceTable
from core.record_codec import batch_from_message
from core.records import Batch, Links, SpanRecord, ToolCallRecord, Usage, merged_spans, merged_tool_calls
from core.span_filter import SpanFilter
from tests.payloads import kv, log_request

ORG = "acme"
SESSION = "s-1"
MODEL = "claude-sonnet-4-5"


def _spans(*specs: tuple[str, bytes, bytes | None, dict[str, Any]]) -> ExportTraceServiceRequest:
    """One request of spans (name, span id, parent id, attributes) in one trace of the session."""
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.append(kv("service.name", "claude-code"))
    ss = rs.scope_spans.add()
    start = time.time_ns()
    for name, span_id, parent, attrs in specs:
        span = Span(trace_id=b"\x01" * 16, span_id=span_id, parent_span_id=parent or b"", name=name,
                    start_time_unix_nano=start, end_time_unix_nano=start + 2_000_000)
        for k, v in {"session.id": SESSION, **attrs}.items():
            span.attributes.append(kv(k, v))
        ss.spans.append(span)
    return req


def _ingest(store: SqliteStore, signal: str, request: Any) -> Batch:
    """Ingest one request; the records of the message it enqueued."""
    svc = IngestService(store, PriceTable.load(), SpanFilter.from_env({}), export_records=True)
    svc.ingest(ORG, signal, request, os.urandom(8).hex())  # type: ignore[arg-type]
    messages = store.claim_outbox(100)
    store.ack_outbox([m.id for m in messages])
    assert len(messages) == 1
    message = orjson.loads(messages[0].payload)
    assert message["stored_ns"] > 0 and message["org_id"] == ORG
    return batch_from_message(message)


def test_a_span_takes_its_sessions_stored_workspace(store: SqliteStore) -> None:
    _ingest(store, "traces", _spans(("op", b"\x01" * 8, None, {"process.cwd": "/work/repo"})))
    batch = _ingest(store, "traces", _spans(("op", b"\x02" * 8, None, {})))
    assert [s.workspace for s in batch.spans] == ["/work/repo"]


def test_a_span_takes_its_sessions_stored_task(store: SqliteStore) -> None:
    with store.unit_of_work() as uow:
        uow.link_session_to_task(ORG, SESSION, SessionLink("task-1", "asg-1"))
    batch = _ingest(store, "traces", _spans(("op", b"\x02" * 8, None, {})))
    assert [(s.links.task_id, s.links.assignment_id) for s in batch.spans] == [("task-1", "asg-1")]


def test_an_approval_takes_its_stored_tool_calls_id(store: SqliteStore) -> None:
    tool = b"\x03" * 8
    _ingest(store, "traces", _spans(("claude_code.tool", tool, None, {"tool_name": "Bash", "tool_use_id": "toolu_1"})))
    batch = _ingest(store, "traces", _spans(
        ("claude_code.tool.blocked_on_user", b"\x04" * 8, tool, {"decision": "accept", "duration_ms": 1500})))
    assert [(t.tool_use_id, t.decision) for t in batch.tool_calls] == [("toolu_1", "accept")]


def test_a_span_of_a_stored_llm_call_carries_the_joined_call(store: SqliteStore) -> None:
    tokens = {"input_tokens": "1200", "output_tokens": "300"}
    _ingest(store, "logs", log_request([{"event.name": "api_request", "session.id": SESSION, "model": MODEL,
                                         "request_id": "req_1", **tokens}]))
    batch = _ingest(store, "traces", _spans(("claude_code.llm_request", b"\x05" * 8, None, {
        "gen_ai.request.model": MODEL, "gen_ai.response.id": "msg_1", "input_tokens": 1200, "output_tokens": 300})))
    [call] = batch.llm_calls
    assert (call.source, call.request_id, call.response_id) == ("event+span", "req_1", "msg_1")


def test_records_no_lookup_changed_are_sent_as_normalised(store: SqliteStore) -> None:
    batch = _ingest(store, "traces", _spans(("op", b"\x06" * 8, None, {"process.cwd": "/w"})))
    assert [(s.span_id, s.workspace, s.session_id) for s in batch.spans] == [("06" * 8, "/w", SESSION)]
    assert list(batch.sessions) == [SESSION]


def test_a_tool_call_reported_twice_in_a_batch_is_one_record_as_stored(store: SqliteStore) -> None:
    """The tool span and its approval wait in one request: one record (the Store's row), written once."""
    tool = b"\x07" * 8
    batch = _ingest(store, "traces", _spans(
        ("claude_code.tool", tool, None, {"tool_name": "Bash", "tool_use_id": "toolu_7", "success": "true"}),
        ("claude_code.tool.blocked_on_user", b"\x08" * 8, tool, {"decision": "accept", "duration_ms": 1500})))
    [call] = batch.tool_calls
    assert (call.tool_use_id, call.tool_name, call.success, call.decision, call.approval_wait_ms) == (
        "toolu_7", "Bash", True, "accept", 1500.0)
    stored = store.session_tool_calls(ORG, SESSION)
    assert [(t.tool_use_id, t.tool_name, t.decision, t.approval_wait_ms) for t in stored] == [
        ("toolu_7", "Bash", "accept", 1500.0)]


def test_merging_tool_calls_leaves_the_records_given_as_they_were() -> None:
    first = ToolCallRecord("toolu_9", SESSION, tool_name="Read", time_ns=20)
    second = ToolCallRecord("toolu_9", None, decision="accept", time_ns=10)
    alone = ToolCallRecord("toolu_10", SESSION)
    merged = merged_tool_calls([first, second, alone])
    assert [(t.tool_use_id, t.session_id, t.tool_name, t.decision, t.time_ns) for t in merged] == [
        ("toolu_9", SESSION, "Read", "accept", 10), ("toolu_10", SESSION, None, None, None)]
    assert (first.decision, first.time_ns, second.tool_name) == (None, 20, None)


def test_a_span_reported_twice_is_its_last_report_with_the_earlier_links() -> None:
    def span(name: str, links: Links, workspace: str, span_id: str = "01") -> SpanRecord:
        return SpanRecord("tr", span_id, None, name, "internal", "ok", None, 1, 2, SESSION, None, "claude_code",
                          workspace, Usage(), links, "{}", "{}", None)
    first = span("execute", Links(task_id="t1", chain_id="c1"), "/src")
    second = span("chat", Links(chain_id="c2", stage_id="st"), "")
    other = span("other", Links(), "", span_id="02")
    merged = merged_spans([first, other, second])
    assert [(s.span_id, s.name, s.links, s.workspace) for s in merged] == [
        ("02", "other", Links(), ""), ("01", "chat", Links(task_id="t1", chain_id="c2", stage_id="st"), "/src")]
    assert (first.name, first.links, second.links) == ("execute", Links(task_id="t1", chain_id="c1"),
                                                       Links(chain_id="c2", stage_id="st"))
    alone = [first, other]
    assert merged_spans(alone) is alone
