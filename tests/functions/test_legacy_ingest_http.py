"""Legacy JSON ingest over HTTP: ClaudeMetrics session totals and Gemini-style JSON spans."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.pricing import PriceTable

API = "/api/observatory"
T0 = "2026-03-01T10:00:00Z"
T1 = "2026-03-01T10:05:00Z"
NS0 = 1_772_359_200_000_000_000  # 2026-03-01T10:00:00Z


def claude_metrics(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "session_id": "sess-1",
        "task_id": "task-1",
        "model": "claude-sonnet-4-5",
        "total_input_tokens": 12000,
        "total_output_tokens": 3400,
        "total_cost_usd": 0.25,
        "duration_ms": 300000,
        "turn_count": 7,
        "tool_calls": 12,
        "start_time": T0,
        "end_time": T1,
        "status": "completed",
        "events": [
            {"type": "tool_call", "timestamp": "2026-03-01T10:01:00Z", "tool_name": "Bash",
             "tool_input": {"command": "export API_KEY=sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789"},
             "tool_result": "ok"},
            {"type": "approval", "timestamp": "2026-03-01T10:02:00Z", "tool_name": "Edit", "approved": True},
        ],
    }
    doc.update(over)
    return doc


def gemini_span(span_id: str = "a1", **over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "traceId": "trace-g1",
        "spanId": span_id,
        "name": "gemini.generate",
        "kind": 3,
        "startTimeUnixNano": NS0,
        "endTimeUnixNano": NS0 + 2_000_000_000,
        "attributes": [
            {"key": "session.id", "value": {"stringValue": "g-sess"}},
            {"key": "llm.model", "value": {"stringValue": "gemini-2.5-pro"}},
            {"key": "llm.token_count.input", "value": {"intValue": "1000"}},
            {"key": "llm.token_count.output", "value": {"intValue": 200}},
        ],
        "status": {"code": 1},
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "gemini-cli"}},
                                    {"key": "process.cwd", "value": {"stringValue": "/home/dev/repo"}}]},
    }
    doc.update(over)
    return doc


def post(client: Any, path: str, body: Any, **headers: str) -> Any:
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(f"{API}{path}", data=data, headers={"Content-Type": "application/json", **headers})


def spans_of(client: Any, trace_id: str) -> list[dict[str, Any]]:
    r = client.get(f"{API}/spans?trace_id={trace_id}&limit=1000")
    assert r.status_code == 200
    return sorted(r.get_json()["spans"], key=lambda s: s["id"])


# -- /ingest/claude ------------------------------------------------------------------------------------------------

def test_claude_metrics_become_one_session_span(client: Any) -> None:
    r = post(client, "/ingest/claude", claude_metrics())
    assert r.status_code == 201
    assert r.get_json() == {"span_id": "claude-sess-1", "trace_id": "claude-sess-1"}
    [span] = spans_of(client, "claude-sess-1")
    assert (span["id"], span["trace_id"], span["name"], span["kind"]) == (
        "claude-sess-1", "claude-sess-1", "claude.session", "client")
    assert (span["provider"], span["model"], span["status"]) == ("claude", "claude-sonnet-4-5", "ok")
    assert (span["tokens_in"], span["tokens_out"]) == (12000, 3400)
    assert span["cost_usd"] == 0.25 and span["provided_cost_usd"] == 0.25
    assert span["session_id"] == "sess-1" and span["task_id"] == "task-1"
    assert span["source_type"] == "claude_code"
    assert span["duration_ms"] == 300000
    assert span["attributes"]["turn_count"] == 7 and span["attributes"]["tool_calls"] == 12
    assert [e["name"] for e in span["events"]] == ["claude.tool_call", "claude.approval"]
    assert "sk-ant-api03" not in json.dumps(span["events"])  # secrets masked before storage
    session = client.get(f"{API}/sessions/sess-1").get_json()
    assert session["source_type"] == "claude_code" and session["models"] == ["claude-sonnet-4-5"]


@pytest.mark.parametrize(("status", "expected"), [("completed", "ok"), ("failed", "error"),
                                                  ("cancelled", "error")])
def test_claude_status_mapping(client: Any, status: str, expected: str) -> None:
    body = claude_metrics(status=status, error_message="boom" if expected == "error" else None)
    assert post(client, "/ingest/claude", body).status_code == 201
    [span] = spans_of(client, "claude-sess-1")
    assert span["status"] == expected
    assert span["status_message"] == ("boom" if expected == "error" else None)


def test_claude_replay_changes_nothing(client: Any) -> None:
    assert post(client, "/ingest/claude", claude_metrics()).status_code == 201
    before = client.get(f"{API}/traces/claude-sess-1").get_json()
    session_before = client.get(f"{API}/sessions/sess-1").get_json()
    for _ in range(2):
        assert post(client, "/ingest/claude", claude_metrics()).status_code == 201
    assert client.get(f"{API}/traces/claude-sess-1").get_json() == before
    assert client.get(f"{API}/sessions/sess-1").get_json() == session_before
    assert client.get(f"{API}/spans?limit=1000").get_json()["count"] == 1


def test_claude_cost_is_computed_when_not_provided(client: Any) -> None:
    body = claude_metrics(total_cost_usd=0)
    assert post(client, "/ingest/claude", body).status_code == 201
    [span] = spans_of(client, "claude-sess-1")
    expected = PriceTable.load().cost("claude-sonnet-4-5", 12000, 3400, 0, 0, 0)
    assert expected and span["provided_cost_usd"] is None
    assert span["computed_cost_usd"] == pytest.approx(expected) and span["cost_usd"] == pytest.approx(expected)
    unknown = claude_metrics(session_id="sess-2", model="mystery-model", total_cost_usd=0)
    assert post(client, "/ingest/claude", unknown).status_code == 201
    [span] = spans_of(client, "claude-sess-2")
    assert span["unpriced"] is True and span["cost_usd"] == 0


def test_claude_start_time_from_end_and_duration(client: Any) -> None:
    assert post(client, "/ingest/claude", claude_metrics(start_time=None, duration_ms=60000)).status_code == 201
    [span] = spans_of(client, "claude-sess-1")
    assert span["start_time"].startswith("2026-03-01T10:04:00") and span["end_time"].startswith("2026-03-01T10:05")


def test_claude_end_time_from_duration(client: Any) -> None:
    body = claude_metrics(end_time="0001-01-01T00:00:00Z", duration_ms=1500)  # Go's zero time: unset
    assert post(client, "/ingest/claude", body).status_code == 201
    [span] = spans_of(client, "claude-sess-1")
    assert span["duration_ms"] == 1500 and span["end_time"].startswith("2026-03-01T10:00:01.5")


@pytest.mark.parametrize(("body", "name"), [
    (claude_metrics(total_input_tokens="lots"), "total_input_tokens"),
    (claude_metrics(total_output_tokens=-1), "total_output_tokens"),
    (claude_metrics(status="running"), "status"),
    (claude_metrics(start_time="yesterday"), "start_time"),
    (claude_metrics(start_time=None, end_time=None), "start_time"),
    (claude_metrics(end_time="2026-03-01T09:00:00Z"), "end_time"),
    ({k: v for k, v in claude_metrics().items() if k != "session_id"}, "session_id"),
    (claude_metrics(session_id="has space"), "session_id"),
    (claude_metrics(events=[{"type": "dance", "timestamp": T0}]), "events.0.type"),
    (claude_metrics(events="none"), "events"),
    (claude_metrics(start_time="9999-01-01T00:00:00Z", end_time=None), "start_time"),
    (claude_metrics(total_cost_usd="NaN"), "total_cost_usd"),
    (claude_metrics(start_time=None, end_time="1970-01-01T00:00:01Z", duration_ms=5000), "duration_ms"),
    # Times from 2100 on: the analytics history could not keep them (core/normalise/attributes.TIME_LIMIT_NS).
    (claude_metrics(start_time="2100-01-01T00:00:00Z", end_time=None), "start_time"),
    (claude_metrics(start_time="2099-12-31T23:59:59Z", end_time=None, duration_ms=5000), "duration_ms"),
])
def test_claude_bad_fields_are_named(client: Any, body: dict[str, Any], name: str) -> None:
    r = post(client, "/ingest/claude", body)
    assert r.status_code == 400
    assert name in r.get_json()["error"]
    assert client.get(f"{API}/spans").get_json()["count"] == 0


@pytest.mark.parametrize("raw", [b"", b"{not json", b"[1, 2]", b"42"])
def test_claude_malformed_bodies(client: Any, raw: bytes) -> None:
    r = post(client, "/ingest/claude", raw)
    assert r.status_code == 400 and "error" in r.get_json()


def test_claude_session_learns_workspace_from_earlier_telemetry(client: Any) -> None:
    assert post(client, "/ingest/otel", gemini_span(attributes=[
        {"key": "session.id", "value": {"stringValue": "sess-1"}}])).status_code == 201
    assert post(client, "/ingest/claude", claude_metrics()).status_code == 201
    [span] = spans_of(client, "claude-sess-1")
    assert span["workspace"] == "/home/dev/repo"


# -- /ingest/otel ----------------------------------------------------------------------------------------------

def test_gemini_spans_array(client: Any) -> None:
    child = gemini_span("b2", parentSpanId="a1", name="gemini.tool", attributes=[
        {"key": "session.id", "value": {"stringValue": "g-sess"}},
        {"key": "gen_ai.usage.input_tokens", "value": {"intValue": 300}},
        {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 40}},
        {"key": "gen_ai.response.model", "value": {"stringValue": "gemini-2.5-flash"}},
        {"key": "llm.cost", "value": {"doubleValue": 0.5}},
    ], status={"code": 2, "message": "quota"})
    r = post(client, "/ingest/otel", [gemini_span(), child])
    assert r.status_code == 201
    assert r.get_json() == {"span_ids": ["gemini-a1", "gemini-b2"], "count": 2}
    root, tool = spans_of(client, "trace-g1")
    assert (root["id"], root["parent_span_id"], root["kind"], root["status"]) == ("gemini-a1", None, "client", "ok")
    assert (root["provider"], root["model"], root["tokens_in"], root["tokens_out"]) == (
        "gemini", "gemini-2.5-pro", 1000, 200)
    expected = PriceTable.load().cost("gemini-2.5-pro", 1000, 200, 0, 0, 0)
    assert root["provided_cost_usd"] is None and root["cost_usd"] == pytest.approx(expected)
    assert root["workspace"] == "/home/dev/repo" and root["source_type"] == "gemini_cli"
    assert (tool["parent_span_id"], tool["status"], tool["status_message"]) == ("gemini-a1", "error", "quota")
    assert (tool["model"], tool["tokens_in"], tool["tokens_out"]) == ("gemini-2.5-flash", 300, 40)
    assert tool["provider"] == "gemini" and tool["cost_usd"] == 0.5 and tool["provided_cost_usd"] == 0.5
    calls = client.get(f"{API}/sessions/g-sess/llm-calls").get_json()
    assert calls["count"] == 2 and {c["span_id"] for c in calls["llm_calls"]} == {"gemini-a1", "gemini-b2"}


def test_gemini_single_object(client: Any) -> None:
    r = post(client, "/ingest/otel", gemini_span())
    assert r.status_code == 201 and r.get_json() == {"span_ids": ["gemini-a1"], "count": 1}
    assert post(client, "/ingest/otel", []).get_json() == {"span_ids": [], "count": 0}


def test_gemini_task_id_from_query_or_header(client: Any) -> None:
    assert post(client, "/ingest/otel?task_id=task-q", gemini_span("q1")).status_code == 201
    assert post(client, "/ingest/otel", gemini_span("h1"), **{"X-Task-ID": "task-h"}).status_code == 201
    both = post(client, "/ingest/otel?task_id=task-q", gemini_span("b1"), **{"X-Task-ID": "task-h"})
    assert both.status_code == 201
    assert post(client, "/ingest/otel", gemini_span("n1")).status_code == 201
    tasks = {s["id"]: s["task_id"] for s in spans_of(client, "trace-g1")}
    assert tasks == {"gemini-q1": "task-q", "gemini-h1": "task-h", "gemini-b1": "task-q", "gemini-n1": None}
    assert client.get(f"{API}/spans?task_id=task-h").get_json()["count"] == 1


def test_gemini_replay_changes_nothing(client: Any) -> None:
    body = [gemini_span("a1"), gemini_span("b2", parentSpanId="a1")]
    assert post(client, "/ingest/otel?task_id=t1", body).status_code == 201
    before = client.get(f"{API}/traces/trace-g1").get_json()
    calls_before = client.get(f"{API}/sessions/g-sess/llm-calls").get_json()
    for _ in range(2):
        assert post(client, "/ingest/otel?task_id=t1", body).status_code == 201
    assert client.get(f"{API}/traces/trace-g1").get_json() == before
    assert client.get(f"{API}/sessions/g-sess/llm-calls").get_json() == calls_before
    assert client.get(f"{API}/spans").get_json()["count"] == 2


def test_gemini_tool_spans_are_tool_calls(client: Any) -> None:
    span = gemini_span("t1", name="execute_tool read_file", attributes=[
        {"key": "session.id", "value": {"stringValue": "g-sess"}},
        {"key": "gen_ai.operation.name", "value": {"stringValue": "execute_tool"}},
        {"key": "gen_ai.tool.name", "value": {"stringValue": "read_file"}},
        {"key": "gen_ai.tool.call.id", "value": {"stringValue": "call-9"}},
        {"key": "success", "value": {"boolValue": True}},
    ])
    assert post(client, "/ingest/otel", span).status_code == 201
    [tool] = client.get(f"{API}/sessions/g-sess/tools").get_json()["tools"]
    assert (tool["tool_use_id"], tool["tool_name"], tool["success"], tool["span_id"]) == (
        "call-9", "read_file", True, "gemini-t1")


def test_gemini_tool_span_without_call_id(client: Any) -> None:
    span = gemini_span("t2", name="execute_tool glob", attributes=[
        {"key": "session.id", "value": {"stringValue": "g-sess"}},
        {"key": "gen_ai.operation.name", "value": {"stringValue": "execute_tool"}},
        {"key": "gen_ai.tool.name", "value": {"stringValue": "glob"}},
    ], status={"code": 2, "message": "no match"})
    for _ in range(2):
        assert post(client, "/ingest/otel", span).status_code == 201
    [tool] = client.get(f"{API}/sessions/g-sess/tools").get_json()["tools"]
    assert tool["tool_use_id"] == "span:trace-g1:gemini-t2"
    assert (tool["tool_name"], tool["success"], tool["error"]) == ("glob", False, "no match")


@pytest.mark.parametrize(("body", "name"), [
    ({k: v for k, v in gemini_span().items() if k != "spanId"}, "spanId"),
    (gemini_span(traceId=""), "traceId"),
    (gemini_span(kind=9), "kind"),
    (gemini_span(startTimeUnixNano="soon"), "startTimeUnixNano"),
    (gemini_span(endTimeUnixNano=NS0 - 1), "endTimeUnixNano"),
    (gemini_span(status={"code": 7}), "status.code"),
    (gemini_span(attributes=[{"key": "x"}]), "attributes.0.value"),
    ([gemini_span(), gemini_span(name="")], "1.name"),
    ("not a span", "body"),
    (gemini_span(startTimeUnixNano=2**64), "startTimeUnixNano"),
    (gemini_span(attributes=[{"key": "x", "value": {"intValue": str(2**70)}}]), "intValue"),
    (gemini_span(attributes=[{"key": "llm.token_count.input", "value": {"intValue": -5}}]), "0.attributes"),
    (gemini_span(attributes=[{"key": "llm.model", "value": {"stringValue": "gemini-2.5-pro"}},
                             {"key": "llm.cost", "value": {"stringValue": "nan"}}]), "llm.cost"),
])
def test_gemini_bad_fields_are_named(client: Any, body: Any, name: str) -> None:
    r = post(client, "/ingest/otel", json.dumps(body))
    assert r.status_code == 400
    assert name in r.get_json()["error"]
    assert client.get(f"{API}/spans").get_json()["count"] == 0


def test_gemini_bad_task_ids(client: Any) -> None:
    r = post(client, "/ingest/otel?task_id=a%20b", gemini_span())
    assert r.status_code == 400 and "'task_id'" in r.get_json()["error"]
    r = post(client, "/ingest/otel", gemini_span(), **{"X-Task-ID": "../etc"})
    assert r.status_code == 400 and "X-Task-ID" in r.get_json()["error"]


def test_legacy_ingest_needs_the_ingest_scope(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBSERVATORY_API_KEYS", json.dumps({"keys": [
        {"key": "ingester", "org": "acme", "scopes": ["ingest"]},
        {"key": "writer", "org": "acme", "scopes": ["read", "write"]},
    ]}))
    assert post(client, "/ingest/claude", claude_metrics(), Authorization="Bearer writer").status_code == 403
    r = post(client, "/ingest/claude", claude_metrics(), Authorization="Bearer ingester")
    assert r.status_code == 201
    assert client.get(f"{API}/spans", headers={"Authorization": "Bearer writer"}).get_json()["count"] == 1
