"""The `spans` function over HTTP: span CRUD (validation, replay, conflict, org scoping), span events, list
filters with chat contexts, and enriched spans (display names from tool calls, trees)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions import _bootstrap
from tests.payloads import kv, log_request, trace_request

API = "/api/observatory"
NOW = datetime.now(UTC).replace(microsecond=0)
PB = {"Content-Type": "application/x-protobuf"}


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def seed_span(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": f"claude-{uuid.uuid4()}", "trace_id": "claude-trace-1", "name": "claude.session", "kind": "client",
        "status": "ok", "start_time": iso(NOW), "end_time": iso(NOW + timedelta(seconds=2)),
        "tokens_in": 1000, "tokens_out": 200, "model": "claude-sonnet-4-5", "provider": "anthropic",
        "attributes": {"k": "v"}, "resource_attributes": {"service.name": "claude-code"},
    }
    body.update(fields)
    return body


def create(client: Any, **fields: Any) -> dict[str, Any]:
    r = client.post(f"{API}/spans", json=seed_span(**fields))
    assert r.status_code == 201, r.get_json()
    return dict(r.get_json())


# -- create ------------------------------------------------------------------------------------------------------

def test_create_returns_the_stored_span_priced_and_linked(client: Any) -> None:
    span = create(client, task_id="task-1", agent_assignment_id="as-1", session_id="s-1", children=[{"x": 1}],
                  created_at=iso(NOW), display_name="ignored")
    assert span["id"].startswith("claude-") and span["trace_id"] == "claude-trace-1"
    assert (span["task_id"], span["agent_assignment_id"], span["session_id"]) == ("task-1", "as-1", "s-1")
    assert span["duration_ms"] == 2000 and span["status"] == "ok" and span["kind"] == "client"
    assert span["provider"] == "claude" and span["source_type"] == "claude_code"
    assert span["computed_cost_usd"] > 0 and span["cost_usd"] == span["computed_cost_usd"]
    assert span["attributes"] == {"k": "v"}
    assert client.get(f"{API}/spans/{span['id']}").get_json() == span
    session = client.get(f"{API}/sessions/s-1").get_json()
    assert session["session_id"] == "s-1"


def test_create_accepts_otlp_hex_ids_lowercased_and_provided_cost(client: Any) -> None:
    span = create(client, id="ABCDEF0123456789", trace_id="0123456789ABCDEF0123456789ABCDEF", cost_usd=0.42,
                  end_time=None, duration_ms=1500)
    assert (span["id"], span["trace_id"]) == ("abcdef0123456789", "0123456789abcdef0123456789abcdef")
    assert span["cost_usd"] == 0.42 and span["provided_cost_usd"] == 0.42 and span["duration_ms"] == 1500
    assert client.get(f"{API}/spans/ABCDEF0123456789").status_code == 200
    gemini = create(client, id="gemini-abc123", trace_id="gemini-trace")
    assert gemini["id"] == "gemini-abc123"


@pytest.mark.parametrize(("fields", "named"), [
    ({"id": ""}, "id"), ({"trace_id": "   "}, "trace_id"), ({"id": "abc123"}, "id"),
    ({"trace_id": "0" * 32}, "trace_id"), ({"id": "bad id/with slash"}, "id"), ({"start_time": None}, "start_time"),
    ({"start_time": "yesterday"}, "start_time"), ({"status": "done"}, "status"), ({"kind": "weird"}, "kind"),
    ({"end_time": iso(NOW - timedelta(seconds=1))}, "end_time"), ({"tokens_in": -1}, "tokens_in"),
    ({"name": ""}, "name"),
])
def test_create_rejects_bad_fields_naming_them(client: Any, fields: dict[str, Any], named: str) -> None:
    body = {k: v for k, v in seed_span(**fields).items() if v is not None}
    r = client.post(f"{API}/spans", json=body)
    assert r.status_code == 400, r.get_json()
    assert f"'{named}'" in r.get_json()["error"]


def test_create_needs_a_json_body(client: Any) -> None:
    assert client.post(f"{API}/spans", data=b"", headers={"Content-Type": "application/json"}).status_code == 400
    assert client.post(f"{API}/spans", data=b"{nope", headers={"Content-Type": "application/json"}
                       ).status_code == 400


def test_replayed_create_is_harmless_and_a_different_one_conflicts(client: Any) -> None:
    body = seed_span(id="claude-fixed")
    first = client.post(f"{API}/spans", json=body)
    again = client.post(f"{API}/spans", json=body)
    assert first.status_code == again.status_code == 201 and first.get_json() == again.get_json()
    r = client.post(f"{API}/spans", json=seed_span(id="claude-fixed", name="other"))
    assert r.status_code == 409 and "PUT" in r.get_json()["error"]
    assert client.get(f"{API}/spans?trace_id=claude-trace-1").get_json()["count"] == 1


def test_a_created_span_reaches_its_tasks_aggregates(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBSERVATORY_BUS_POLL_S", "0.05")
    task = client.post(f"{API}/tasks", json={"title": "aggregate me"}).get_json()
    create(client, task_id=task["id"], status="error")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        got = client.get(f"{API}/tasks/{task['id']}").get_json()
        if got["span_count"] == 1:
            break
        time.sleep(0.05)
    assert (got["span_count"], got["error_count"], got["total_tokens_in"]) == (1, 1, 1000)


# -- read, update, delete ----------------------------------------------------------------------------------------

def test_missing_span_is_404_everywhere(client: Any) -> None:
    for method, path in (("get", "/spans/nope"), ("put", "/spans/nope"), ("delete", "/spans/nope"),
                         ("get", "/spans/nope/enriched"), ("get", "/spans/nope/events"),
                         ("post", "/spans/nope/events")):
        kwargs = {"json": {"name": "x"}} if method in ("put", "post") else {}
        r = getattr(client, method)(f"{API}{path}", **kwargs)
        assert r.status_code == 404 and "error" in r.get_json(), (method, path)


def test_update_changes_only_given_fields_and_reprices(client: Any) -> None:
    span = create(client, task_id="task-1")
    r = client.put(f"{API}/spans/{span['id']}", json={"task_id": "task-2", "tokens_out": 400, "name": None,
                                                      "unknown": 1})
    assert r.status_code == 200, r.get_json()
    updated = r.get_json()
    assert (updated["task_id"], updated["tokens_out"], updated["name"]) == ("task-2", 400, span["name"])
    assert updated["computed_cost_usd"] > span["computed_cost_usd"]
    moved = client.put(f"{API}/spans/{span['id']}", json={"start_time": iso(NOW + timedelta(hours=1))}).get_json()
    assert moved["duration_ms"] == 2000  # a moved start keeps the duration
    cleared = client.put(f"{API}/spans/{span['id']}", json={"task_id": None}).get_json()
    assert cleared["task_id"] is None


@pytest.mark.parametrize(("body", "named"), [
    ({"id": "claude-other"}, "id"), ({"trace_id": "another-trace"}, "trace_id"), ({"status": "meh"}, "status"),
    ({"end_time": iso(NOW - timedelta(days=1))}, "end_time"),
])
def test_update_rejects_bad_fields(client: Any, body: dict[str, Any], named: str) -> None:
    span = create(client)
    r = client.put(f"{API}/spans/{span['id']}", json=body)
    assert r.status_code == 400 and f"'{named}'" in r.get_json()["error"]


def test_delete_is_204_then_404(client: Any) -> None:
    span = create(client)
    r = client.delete(f"{API}/spans/{span['id']}")
    assert r.status_code == 204 and r.data == b""
    assert client.get(f"{API}/spans/{span['id']}").status_code == 404
    assert client.delete(f"{API}/spans/{span['id']}").status_code == 404


def test_another_orgs_span_is_invisible_and_untouchable(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBSERVATORY_API_KEYS", json.dumps({"keys": [
        {"key": "a", "org": "org-a"}, {"key": "b", "org": "org-b"}]}))
    a, b = {"Authorization": "Bearer a"}, {"Authorization": "Bearer b"}
    r = client.post(f"{API}/spans", json=seed_span(id="claude-secret"), headers=a)
    assert r.status_code == 201
    for method, path in (("get", ""), ("get", "/enriched"), ("get", "/events"), ("put", ""), ("delete", ""),
                         ("post", "/events")):
        kwargs = {"json": {"name": "x"}} if method in ("put", "post") else {}
        got = getattr(client, method)(f"{API}/spans/claude-secret{path}", headers=b, **kwargs)
        assert got.status_code == 404, (method, path)
    assert client.get(f"{API}/spans", headers=b).get_json()["count"] == 0
    assert client.get(f"{API}/spans/enriched", headers=b).get_json()["count"] == 0
    assert client.get(f"{API}/spans/claude-secret", headers=a).get_json()["name"] == "claude.session"


# -- span events -------------------------------------------------------------------------------------------------

def test_span_events_from_ingest_and_added_through_the_api(client: Any) -> None:
    req = trace_request(1, trace_id=bytes.fromhex("11" * 16))
    otlp_span = req.resource_spans[0].scope_spans[0].spans[0]
    event = otlp_span.events.add(name="exception", time_unix_nano=otlp_span.start_time_unix_nano)
    event.attributes.append(kv("exception.message", "boom"))
    assert client.post("/v1/traces", data=req.SerializeToString(), headers=PB).status_code == 200
    _bootstrap.container().bus.drain()  # the worker indexes ingested spans by id
    span_id = otlp_span.span_id.hex()
    listed = client.get(f"{API}/spans/{span_id}/events").get_json()
    assert listed["count"] == 1
    assert listed["events"][0] | {"timestamp": None} == {
        "id": 1, "span_id": span_id, "name": "exception", "timestamp": None, "event_type": "error",
        "approval_status": None, "tool_name": None, "error_message": "boom",
        "attributes": {"exception.message": "boom"}}
    r = client.post(f"{API}/spans/{span_id}/events", json={
        "name": "approval.requested", "event_type": "approval", "approval_status": "pending",
        "timestamp": iso(NOW), "attributes": {"tool": "Bash"}})
    assert r.status_code == 201
    added = r.get_json()
    assert (added["id"], added["event_type"], added["approval_status"]) == (2, "approval", "pending")
    assert added["timestamp"].startswith(iso(NOW)[:19])
    assert [e["name"] for e in client.get(f"{API}/spans/{span_id}/events").get_json()["events"]] == [
        "exception", "approval.requested"]
    assert client.post(f"{API}/spans/{span_id}/events", json={"name": "x", "event_type": "nope"}
                       ).status_code == 400
    assert client.post(f"{API}/spans/{span_id}/events", json={"event_type": "tool"}).status_code == 400


# -- lists -------------------------------------------------------------------------------------------------------

def test_list_filters_and_bad_parameters(client: Any) -> None:
    create(client, id="claude-a", model="claude-sonnet-4-5", status="ok", task_id="t-a", workspace="/w/a",
           start_time=iso(NOW - timedelta(hours=2)), end_time=iso(NOW - timedelta(hours=2)))
    create(client, id="claude-b", model="claude-haiku-4-5", status="error", task_id="t-b",
           agent_assignment_id="as-b", session_id="s-b")
    ids = lambda query: [s["id"] for s in client.get(f"{API}/spans?{query}").get_json()["spans"]]  # noqa: E731
    assert ids("") == ["claude-b", "claude-a"]
    assert ids("model=claude-sonnet-4-5") == ["claude-a"]
    assert ids("status=error") == ids("agent_assignment_id=as-b") == ids("session_id=s-b") == ["claude-b"]
    assert ids("task_id=t-a") == ids("workspace=/w/a") == ["claude-a"]
    assert ids(f"start_after={iso(NOW - timedelta(hours=1))}") == ["claude-b"]
    assert ids(f"start_before={iso(NOW - timedelta(hours=1))}") == ["claude-a"]
    assert ids("provider=claude&limit=1&offset=1") == ["claude-a"]
    for query, name in (("status=done", "status"), ("start_after=soon", "start_after"), ("limit=0", "limit"),
                        ("include_chat=maybe", "include_chat")):
        r = client.get(f"{API}/spans?{query}")
        assert r.status_code == 400 and f"'{name}'" in r.get_json()["error"], query


def _claude_logs(session: str, tool_input: dict[str, Any] | None = None) -> bytes:
    return log_request([
        {"event.name": "user_prompt", "session.id": session, "prompt": "fix the bug " * 60},
        {"event.name": "api_request", "session.id": session, "model": "claude-sonnet-4-5", "input_tokens": 10,
         "output_tokens": 5, "request_id": f"req-{session}", "duration_ms": 100},
        {"event.name": "tool_result", "session.id": session, "tool_name": "Bash", "tool_use_id": f"tu-{session}",
         "success": "true", "duration_ms": 30, "tool_parameters": json.dumps(tool_input or {"command": "ls -la"})},
    ]).SerializeToString()


def test_include_chat_attaches_the_sessions_first_prompt(client: Any) -> None:
    assert client.post("/v1/logs", data=_claude_logs("s-chat"), headers=PB).status_code == 200
    create(client, session_id="s-chat")
    create(client, id="claude-alone")
    spans = client.get(f"{API}/spans?include_chat=true").get_json()["spans"]
    chat = {s["id"]: s["chat_context"] for s in spans}
    assert chat["claude-alone"] is None
    [context] = [c for c in chat.values() if c]
    assert context["user_prompt"].startswith("fix the bug") and len(context["user_prompt"]) == 500
    assert context["full_chat_url"] == f"{API}/sessions/s-chat/events" and context["has_thinking"] is False
    assert all(s["chat_context"] is None for s in client.get(f"{API}/spans").get_json()["spans"])


def _tool_span_trace() -> Any:
    """A Claude Code interaction (root) with an LLM request and a Read tool span that records its call."""
    req = trace_request(3, service="claude-code", trace_id=bytes.fromhex("22" * 16),
                        attrs={"session.id": "s-tree"})
    root, llm, tool = req.resource_spans[0].scope_spans[0].spans
    root.name, llm.name, tool.name = "claude_code.interaction", "claude_code.llm_request", "claude_code.tool"
    llm.parent_span_id = tool.parent_span_id = root.span_id
    for offset_ms, child in ((1, llm), (2, tool)):
        child.start_time_unix_nano = root.start_time_unix_nano + offset_ms * 1_000_000
        child.end_time_unix_nano = child.start_time_unix_nano + 1_000_000
    llm.attributes.extend([kv("model", "claude-sonnet-4-5"), kv("input_tokens", 10), kv("output_tokens", 5)])
    tool.attributes.extend([kv("tool_name", "Read"), kv("tool_use_id", "toolu_read"),
                            kv("tool_input", json.dumps({"file_path": "/src/main.go"})),
                            kv("gen_ai.tool.call.result", "package main"), kv("success", True)])
    return req


def test_enriched_spans_have_display_names_and_trees(client: Any) -> None:
    req = _tool_span_trace()
    assert client.post("/v1/traces", data=req.SerializeToString(), headers=PB).status_code == 200
    _bootstrap.container().bus.drain()  # the worker indexes ingested spans by id
    root, llm, tool = (s.span_id.hex() for s in req.resource_spans[0].scope_spans[0].spans)
    flat = client.get(f"{API}/spans/enriched").get_json()
    assert flat["hierarchical"] is False and flat["count"] == 3
    names = {s["id"]: s["display_name"] for s in flat["spans"]}
    assert names[tool] == "Read: /src/main.go" and names[root] == "claude_code.interaction"
    assert all(s["attributes"] is None and s["children"] == [] for s in flat["spans"])
    tree = client.get(f"{API}/spans/enriched?hierarchical=true&include_attributes=true").get_json()
    assert tree["hierarchical"] is True and tree["count"] == 3
    [top] = tree["spans"]
    assert top["id"] == root and [c["id"] for c in top["children"]] == [llm, tool]
    assert top["children"][1]["tool_name"] == "Read" and top["attributes"]["session.id"] == "s-tree"
    assert client.get(f"{API}/spans/enriched?hierarchical=yes-please").status_code == 400


def test_enriched_span_carries_its_tool_call(client: Any) -> None:
    req = _tool_span_trace()
    assert client.post("/v1/traces", data=req.SerializeToString(), headers=PB).status_code == 200
    _bootstrap.container().bus.drain()  # the worker indexes ingested spans by id
    tool = req.resource_spans[0].scope_spans[0].spans[2].span_id.hex()
    got = client.get(f"{API}/spans/{tool}/enriched").get_json()
    assert got["display_name"] == "Read: /src/main.go" and got["tool_name"] == "Read"
    assert got["tool_use_id"] == "toolu_read" and got["tool_input"] == {"file_path": "/src/main.go"}
    assert got["tool_response"] == "package main" and got["tool_success"] is True


def test_enriched_span_matches_a_logged_tool_call_by_session_name_and_time(client: Any) -> None:
    assert client.post("/v1/logs", data=_claude_logs("s-near", {"command": "make test"}),
                       headers=PB).status_code == 200
    span = create(client, name="claude_code.tool.Bash", session_id="s-near", model=None, tokens_in=0,
                  tokens_out=0, start_time=iso(datetime.now(UTC)), end_time=None)
    got = client.get(f"{API}/spans/{span['id']}/enriched").get_json()
    assert (got["display_name"], got["tool_use_id"], got["tool_success"]) == ("Bash: make test", "tu-s-near", True)
    assert got["tool_input"] == {"command": "make test"} and got["tool_response"] is None
    listed = client.get(f"{API}/spans/enriched?session_id=s-near").get_json()["spans"]
    assert listed[0]["display_name"] == "Bash: make test"
    plain = create(client, id="claude-plain")
    got = client.get(f"{API}/spans/{plain['id']}/enriched").get_json()
    assert got["display_name"] == "claude.session" and got["tool_input"] is None and got["tool_success"] is None
