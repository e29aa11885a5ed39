"""Tenant isolation: a key of another org walks every route of the API with the first org's ids and can
neither see nor change anything of it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.routes import ROUTES, Route
from functions import _bootstrap
from tests.payloads import log_request, stable, trace_request

A, B = {"Authorization": "Bearer key-a"}, {"Authorization": "Bearer key-b"}
SESSION = "sess-isolation-a-0001"


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch, analytics_dsn: str) -> None:
    # Analytics on, as the local stack runs: the /api/v1 routes and the insights on embedded ClickHouse.
    monkeypatch.setenv("OBSERVATORY_CLICKHOUSE_URL", analytics_dsn)
    monkeypatch.setenv("OBSERVATORY_API_KEYS", json.dumps({"keys": [
        {"key": "key-a", "org": "org-a", "scopes": ["ingest", "read", "write"]},
        {"key": "key-b", "org": "org-b", "scopes": ["ingest", "read", "write"]},
    ]}))


def _seed_org_a(client: Any) -> dict[str, str]:
    """Telemetry and catalog entities of org A; returns the value for every path parameter name."""
    pb = {"Content-Type": "application/x-protobuf", **A}
    trace = trace_request(4, service="claude-code", attrs={"session.id": SESSION, "gen_ai.request.model": "m-a"})
    assert client.post("/v1/traces", data=trace.SerializeToString(), headers=pb).status_code == 200
    logs = log_request([
        {"event.name": "api_request", "session.id": SESSION, "model": "claude-sonnet-4-5", "input_tokens": 10,
         "output_tokens": 5, "cost_usd": 0.01, "request_id": "req-a-1"},
        {"event.name": "tool_result", "session.id": SESSION, "tool_name": "Bash", "tool_use_id": "toolu_a1",
         "success": "true"},
    ])
    assert client.post("/v1/logs", data=logs.SerializeToString(), headers=pb).status_code == 200

    def create(path: str, body: dict[str, Any]) -> str:
        r = client.post(f"/api/observatory/{path}", json=body, headers=A)
        assert r.status_code == 201, (path, r.get_json())
        return str(r.get_json()["id"])

    workspace = create("workspaces", {"name": "ws-a", "path": "/a"})
    task = create("tasks", {"title": "task-a", "workspace_id": workspace})
    assignment = create("agents", {"task_id": task, "agent_id": "agent-a", "provider": "anthropic"})
    message = create("messages", {"inbox": "inbox-a", "title": "hello", "content": "secret-a", "task_id": task})
    chain = create("chains", {"source_type": "message", "source_ref": message, "workspace_id": workspace})
    stage = create(f"chains/{chain}/stages", {"agent_id": "agent-a", "task_id": task, "message_id": message})
    hook = {"hook_event_name": "PreToolUse", "session_id": SESSION, "cwd": "/a", "tool_name": "Bash",
            "tool_use_id": "toolu_hook_a", "tool_input": {"command": "ls"}}
    assert client.post("/api/observatory/hooks", json=hook, headers=A).status_code == 200
    sync = {"sessions": [{"id": SESSION, "user_id": "a@example.com", "project_name": "proj-a",
                          "started_at": "2026-01-02T03:04:05Z", "user_message_count": 1}],
            "messages": [{"session_id": SESSION, "ordinal": 0, "role": "user", "content": "secret-a prompt"}],
            "tool_calls": [{"session_id": SESSION, "message_ordinal": 0, "tool_use_id": "toolu_sync_a",
                            "tool_name": "Bash", "input_json": '{"command": "git commit -m x"}',
                            "result_content": "[main 1a2b3c4d] x"}]}
    assert client.post("/api/v1/sync", json=sync, headers=A).status_code == 200
    assert client.post(f"/api/v1/sessions/{SESSION}/stars", json={"user_id": "a@example.com"}, headers=A
                       ).status_code == 204
    _bootstrap.container().bus.drain()  # the aggregate worker's pass: rollups, task totals, span ids
    return {
        "trace_id": trace.resource_spans[0].scope_spans[0].spans[0].trace_id.hex(),
        "span_id": trace.resource_spans[0].scope_spans[0].spans[0].span_id.hex(),
        "session_id": SESSION, "workspace_id": workspace, "task_id": task, "assignment_id": assignment,
        "message_id": message, "dimension": "model", "chain_id": chain, "stage_id": stage,
    }


def _path(route: Route, ids: dict[str, str]) -> str:
    path = route.path
    for name in route.pattern.groupindex:
        path = path.replace("{" + name + "}", ids[name])
    if route.operation == "lookup_chain":
        path += f"?task_id={ids['task_id']}"
    if route.operation == "v1_search":
        path += "?q=secret-a"
    if route.operation == "v1_git_links":
        path += "?sha=1a2b3c4d"
    return path


# What org B sends to each write: bodies that would touch or reference org A's entities.
def _body(route: Route, ids: dict[str, str]) -> Any:
    return {
        "create_workspace": {"name": "ws-b"},
        "update_workspace": {"name": "hijacked"},
        "create_task": {"title": "task-b", "workspace_id": ids["workspace_id"], "parent_task_id": ids["task_id"]},
        "update_task": {"title": "hijacked", "status": "failed"},
        "create_assignment": {"task_id": ids["task_id"], "agent_id": "agent-b"},
        "update_assignment": {"agent_id": "hijacked"},
        "create_message": {"inbox": "inbox-b", "title": "b"},
        "update_message": {"title": "hijacked"},
        "create_span": {"id": "b0b0b0b0b0b0b0b0", "trace_id": ids["trace_id"], "name": "hijack",
                        "start_time": "2026-01-01T00:00:00Z", "task_id": ids["task_id"]},
        "update_span": {"name": "hijacked"},
        "add_span_event": {"name": "hijack"},
        "ingest_claude": {"session_id": SESSION, "total_tokens_in": 1, "status": "completed"},
        "ingest_otel": {"spanId": ids["span_id"], "traceId": ids["trace_id"], "name": "hijack"},
        "create_chain": {"source_type": "manual"}, "update_chain_status": {"status": "failed"},
        "add_chain_metrics": {"cost": 1, "tokens": 1, "turns": 1}, "create_stage": {"agent_id": "agent-b"},
        "update_stage_status": {"status": "failed"}, "link_stage_session": {"session_id": SESSION},
        "stage_approval": {"approval_status": "pending", "approval_type": "merge"}, "add_stage_metrics": {"cost": 1},
        "stage_error": {"error_message": "hijack"}, "put_eval_assessment": {"benchmark_id": "hijack"},
        "link_span": {"chain_id": ids["chain_id"], "stage_id": ids["stage_id"]},
        "hook": {"hook_event_name": "PostToolUse", "session_id": SESSION, "tool_name": "Bash",
                 "tool_use_id": "toolu_hook_a", "tool_response": {"stdout": "hijacked"}},
    }.get(route.operation, {})


API_ROUTES = [r for r in ROUTES if r.path.startswith("/api/") and r.operation != "openapi"]


def test_another_org_sees_and_changes_nothing(client: Any, keys: None) -> None:
    ids = _seed_org_a(client)
    secrets = {v for k, v in ids.items() if k != "dimension"}
    reads = [r for r in API_ROUTES if r.method == "GET"]
    before = {r.path: client.get(_path(r, ids), headers=A) for r in reads}
    assert all(resp.status_code == 200 for resp in before.values()), {
        p: (resp.status_code, resp.get_json()) for p, resp in before.items() if resp.status_code != 200}

    for route in reads:
        r = client.get(_path(route, ids), headers=B)
        if (route.pattern.groupindex or route.operation == "lookup_chain") and route.operation != "breakdown":
            assert r.status_code in (403, 404), (route.path, r.status_code, r.get_json())
        else:
            assert r.status_code == 200, (route.path, r.get_json())
            leaked = [s for s in secrets if s in r.get_data(as_text=True)]
            assert not leaked, (route.path, leaked)

    for route in (r for r in API_ROUTES if r.method != "GET"):
        r = client.open(_path(route, ids), method=route.method, json=_body(route, ids), headers=B)
        if route.pattern.groupindex:
            assert r.status_code in (400, 403, 404), (route.method, route.path, r.status_code, r.get_json())
        elif route.operation in ("create_task", "create_assignment"):  # references to A's entities
            assert r.status_code in (400, 404), (route.path, r.status_code, r.get_json())

    for route in reads:  # org A's view is exactly what it was
        after = client.get(_path(route, ids), headers=A)
        assert after.status_code == 200, route.path
        if route.operation == "ops_status":  # deployment-wide figures (backlog, store size) move with any org
            assert after.get_json()["rejected"] == before[route.path].get_json()["rejected"]
            continue
        assert stable(after.get_json()) == stable(before[route.path].get_json()), route.path
