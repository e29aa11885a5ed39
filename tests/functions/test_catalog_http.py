"""The HTTP contract of the catalog functions: workspaces, tasks, agents and messages through the local stack."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.payloads import trace_request

API = "/api/observatory"


def post(client: Any, path: str, body: Any, **headers: str) -> Any:
    return client.post(f"{API}{path}", data=json.dumps(body), headers={"Content-Type": "application/json",
                                                                         **headers})


def put(client: Any, path: str, body: Any, **headers: str) -> Any:
    return client.put(f"{API}{path}", data=json.dumps(body), headers={"Content-Type": "application/json",
                                                                        **headers})


def get(client: Any, path: str, **headers: str) -> Any:
    return client.get(f"{API}{path}", headers=headers)


def delete(client: Any, path: str, **headers: str) -> Any:
    return client.delete(f"{API}{path}", headers=headers)


def created(r: Any) -> dict[str, Any]:
    assert r.status_code == 201, r.get_json()
    body: dict[str, Any] = r.get_json()
    return body


def ingest(client: Any, n: int, attrs: dict[str, Any], names: list[str] | None = None,
           error_at: int | None = None) -> None:
    req = trace_request(n, attrs=attrs)
    spans = req.resource_spans[0].scope_spans[0].spans
    for i, span in enumerate(spans):
        if names:
            span.name = names[i]
        if error_at == i:
            span.status.code = 2
    r = client.post("/v1/traces", data=req.SerializeToString(), headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 200


# -- workspaces ----------------------------------------------------------------------------------------------------

def test_workspace_lifecycle(client: Any) -> None:
    ws = created(post(client, "/workspaces", {"name": "observatory", "path": "/src/obs",
                                              "git_remote": "git@example.com:o/obs.git"}))
    wid = ws["id"]
    assert len(wid) == 36 and ws["created_at"] == ws["updated_at"]
    assert get(client, f"/workspaces/{wid}").get_json() == ws
    listed = get(client, "/workspaces").get_json()
    assert listed["workspaces"] == [ws] and (listed["count"], listed["limit"], listed["offset"]) == (1, 50, 0)
    r = put(client, f"/workspaces/{wid}", {"name": "renamed", "created_at": "2000-01-01T00:00:00Z"})
    assert r.status_code == 200
    body = r.get_json()
    assert body["name"] == "renamed" and body["path"] == "/src/obs" and body["created_at"] == ws["created_at"]
    assert body["git_remote"] == "git@example.com:o/obs.git"
    assert put(client, f"/workspaces/{wid}", {"git_remote": None}).get_json()["git_remote"] is None
    stats = get(client, f"/workspaces/{wid}/stats").get_json()
    assert stats == {"id": wid, "name": "renamed", "path": "/src/obs", "task_count": 0, "total_cost": 0.0,
                     "total_tokens": 0, "success_rate": 0.0, "unique_agents": 0, "last_activity": None}
    r = delete(client, f"/workspaces/{wid}")
    assert r.status_code == 204 and r.data == b""
    for call in (get(client, f"/workspaces/{wid}"), delete(client, f"/workspaces/{wid}"),
                 put(client, f"/workspaces/{wid}", {"name": "x"}), get(client, f"/workspaces/{wid}/stats")):
        assert call.status_code == 404 and "error" in call.get_json()


def test_client_ids_conflicts_and_bad_bodies(client: Any) -> None:
    ws = created(post(client, "/workspaces", {"id": "w-1", "name": "one"}))
    assert ws["id"] == "w-1" and ws["path"] == ""
    r = post(client, "/workspaces", {"id": "w-1", "name": "again"})
    assert r.status_code == 409 and "already exists" in r.get_json()["error"]
    r = post(client, "/workspaces", {"path": "/x"})
    assert r.status_code == 400 and "'name'" in r.get_json()["error"]
    r = post(client, "/workspaces", {"id": "has/slash", "name": "x"})
    assert r.status_code == 400 and "'id'" in r.get_json()["error"]
    r = client.post(f"{API}/workspaces", data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400


# -- tasks -----------------------------------------------------------------------------------------------------------

def test_task_lifecycle_and_status_stamps(client: Any) -> None:
    created(post(client, "/workspaces", {"id": "w1", "name": "w1"}))
    t = created(post(client, "/tasks", {"id": "t1", "workspace_id": "w1", "title": "Fix the bug",
                                        "source_type": "github_issue", "source_ref": "o/r#12"}))
    assert (t["status"], t["priority"], t["started_at"], t["span_count"]) == ("pending", "normal", None, 0)
    assert get(client, "/tasks/t1").get_json() == t
    running = put(client, "/tasks/t1", {"status": "running"}).get_json()
    assert running["status"] == "running" and running["started_at"] is not None
    done = put(client, "/tasks/t1", {"status": "completed", "title": "Fixed"}).get_json()
    assert done["completed_at"] is not None and done["started_at"] == running["started_at"]
    assert done["title"] == "Fixed"
    assert put(client, "/tasks/t1", {"status": "paused"}).status_code == 400
    r = put(client, "/tasks/t1", {"workspace_id": "nope"})
    assert r.status_code == 400 and "workspace_id" in r.get_json()["error"]
    r = put(client, "/tasks/t1", {"parent_task_id": "t1"})
    assert r.status_code == 400 and "parent_task_id" in r.get_json()["error"]
    r = post(client, "/tasks", {"title": "x", "workspace_id": "missing"})
    assert r.status_code == 400 and "workspace_id" in r.get_json()["error"]
    r = post(client, "/tasks", {"title": "x", "source_type": "fax"})
    assert r.status_code == 400 and "source_type" in r.get_json()["error"]
    assert post(client, "/tasks", {"id": "t1", "title": "dup"}).status_code == 409
    assert get(client, "/tasks/t1/agents").get_json() == {"agents": [], "count": 0}
    assert delete(client, "/tasks/t1").status_code == 204
    for path in ("/tasks/t1", "/tasks/t1/agents", "/tasks/t1/timeline"):
        assert get(client, path).status_code == 404
    assert client.post(f"{API}/tasks/t1/recalculate").status_code == 404
    assert delete(client, "/tasks/t1").status_code == 404


def test_task_list_filters_and_limit_cap(client: Any) -> None:
    created(post(client, "/workspaces", {"id": "w1", "name": "w1"}))
    created(post(client, "/workspaces", {"id": "w2", "name": "w2"}))
    created(post(client, "/tasks", {"id": "a", "workspace_id": "w1", "title": "a", "status": "completed",
                                    "created_at": "2026-01-01T00:00:00Z"}))
    created(post(client, "/tasks", {"id": "b", "workspace_id": "w1", "title": "b", "source_type": "email",
                                    "created_at": "2026-01-02T00:00:00Z"}))
    created(post(client, "/tasks", {"id": "c", "workspace_id": "w2", "title": "c", "parent_task_id": "a",
                                    "created_at": "2026-01-03T00:00:00Z"}))

    def ids(query: str) -> list[str]:
        r = get(client, f"/tasks?{query}")
        assert r.status_code == 200, r.get_json()
        return [t["id"] for t in r.get_json()["tasks"]]

    assert ids("") == ["c", "b", "a"]
    assert ids("workspace_id=w1") == ["b", "a"]
    assert ids("status=completed") == ["a"]
    assert ids("source_type=email") == ["b"]
    assert ids("parent_task_id=a") == ["c"]
    assert ids("limit=1&offset=1") == ["b"]
    assert get(client, "/tasks?limit=5000").get_json()["limit"] == 1000
    for bad in ("status=paused", "source_type=fax", "limit=0", "offset=-1", "limit=x"):
        r = get(client, f"/tasks?{bad}")
        assert r.status_code == 400 and bad.split("=")[0] in r.get_json()["error"]
    created_task = get(client, "/tasks/a").get_json()
    assert created_task["created_at"] == "2026-01-01T00:00:00Z"


def test_aggregates_after_ingest_and_recalculate(client: Any) -> None:
    created(post(client, "/workspaces", {"id": "w1", "name": "w1"}))
    created(post(client, "/tasks", {"id": "t1", "workspace_id": "w1", "title": "t1"}))
    a1 = created(post(client, "/agents", {"id": "a1", "task_id": "t1", "agent_id": "claude-1",
                                          "provider": "claude"}))
    assert (a1["status"], a1["tool_calls"], a1["turns"]) == ("pending", 0, 0)
    created(post(client, "/agents", {"id": "a2", "task_id": "t1", "agent_id": "gemini-1", "provider": "gemini",
                                      "status": "completed"}))
    usage = {"observatory.task_id": "t1", "observatory.assignment_id": "a1", "gen_ai.usage.input_tokens": 100,
             "gen_ai.usage.output_tokens": 10, "gen_ai.usage.cost": 0.1, "gen_ai.request.model": "claude-haiku-4-5"}
    ingest(client, 3, usage, names=["turn", "claude_code.tool.Read", "turn"], error_at=2)
    ingest(client, 1, {"observatory.task_id": "t1"})
    t = client.post(f"{API}/tasks/t1/recalculate").get_json()
    assert (t["span_count"], t["error_count"], t["agent_count"]) == (4, 1, 2)
    assert (t["total_tokens_in"], t["total_tokens_out"]) == (300, 30)
    assert t["total_cost_usd"] == pytest.approx(0.3)
    a = get(client, "/agents/a1").get_json()
    assert (a["tokens_in"], a["tool_calls"], a["turns"]) == (300, 1, 2)
    assert client.post(f"{API}/agents/a1/recalculate").get_json() == a
    agents = get(client, "/tasks/t1/agents").get_json()
    assert [x["id"] for x in agents["agents"]] == ["a1", "a2"] and agents["count"] == 2
    stats = get(client, "/agents/a1/stats").get_json()
    assert (stats["agent_id"], stats["provider"], stats["execution_count"], stats["total_tokens_in"],
            stats["total_tool_calls"], stats["success_rate"]) == ("claude-1", "claude", 1, 300, 1, 0.0)
    timeline = get(client, "/tasks/t1/timeline").get_json()
    assert timeline["task_id"] == "t1" and timeline["count"] == 4
    assert {e["span_status"] for e in timeline["timeline"]} == {"error", "unset"}
    ws = get(client, "/workspaces/w1/stats").get_json()
    assert (ws["task_count"], ws["total_tokens"], ws["unique_agents"]) == (1, 330, 2)
    assert ws["last_activity"] is not None


def test_aggregate_worker_updates_tasks_after_ingest(client: Any) -> None:
    created(post(client, "/tasks", {"id": "t9", "title": "background"}))
    created(post(client, "/agents", {"id": "a9", "task_id": "t9", "agent_id": "claude-1"}))
    ingest(client, 2, {"observatory.task_id": "t9", "observatory.assignment_id": "a9",
                       "gen_ai.usage.input_tokens": 7})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        t = get(client, "/tasks/t9").get_json()
        if t["span_count"] == 2:
            break
        time.sleep(0.05)
    assert (t["span_count"], t["total_tokens_in"]) == (2, 14)
    deadline = time.monotonic() + 10
    while get(client, "/agents/a9").get_json()["tokens_in"] != 14 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert get(client, "/agents/a9").get_json()["turns"] == 2


def test_a_task_created_after_its_spans_counts_them(client: Any) -> None:
    ingest(client, 2, {"observatory.task_id": "late"})
    t = created(post(client, "/tasks", {"id": "late", "title": "late"}))
    assert t["span_count"] == 2


def test_deleting_a_workspace_deletes_its_tasks_and_assignments(client: Any) -> None:
    created(post(client, "/workspaces", {"id": "w1", "name": "w1"}))
    created(post(client, "/tasks", {"id": "t1", "workspace_id": "w1", "title": "t1"}))
    created(post(client, "/agents", {"id": "a1", "task_id": "t1", "agent_id": "x"}))
    assert delete(client, "/workspaces/w1").status_code == 204
    assert get(client, "/tasks/t1").status_code == 404
    assert get(client, "/agents/a1").status_code == 404


# -- agents ---------------------------------------------------------------------------------------------------------

def test_assignment_lifecycle(client: Any) -> None:
    created(post(client, "/tasks", {"id": "t1", "title": "t1"}))
    r = post(client, "/agents", {"task_id": "nope", "agent_id": "x"})
    assert r.status_code == 400 and "task_id" in r.get_json()["error"]
    assert post(client, "/agents", {"task_id": "t1"}).status_code == 400
    assert post(client, "/agents", {"task_id": "t1", "agent_id": "x", "status": "sleeping"}).status_code == 400
    a = created(post(client, "/agents", {"task_id": "t1", "agent_id": "claude-1", "status": "running"}))
    aid = a["id"]
    assert a["started_at"] is not None and a["completed_at"] is None
    assert post(client, "/agents", {"id": aid, "task_id": "t1", "agent_id": "y"}).status_code == 409
    done = put(client, f"/agents/{aid}", {"status": "failed", "task_id": "ignored"}).get_json()
    assert done["status"] == "failed" and done["completed_at"] is not None and done["task_id"] == "t1"
    assert get(client, "/tasks/t1").get_json()["agent_count"] == 1
    assert delete(client, f"/agents/{aid}").status_code == 204
    assert get(client, "/tasks/t1").get_json()["agent_count"] == 0
    for r in (get(client, f"/agents/{aid}"), get(client, f"/agents/{aid}/stats"),
              put(client, f"/agents/{aid}", {"status": "failed"}), delete(client, f"/agents/{aid}"),
              client.post(f"{API}/agents/{aid}/recalculate")):
        assert r.status_code == 404


# -- messages -------------------------------------------------------------------------------------------------------

def test_message_lifecycle_read_and_archive(client: Any) -> None:
    m = created(post(client, "/messages", {"inbox": "coder", "from_agent": "alice", "title": "hi",
                                           "content": "please fix", "task_id": "t1"}))
    mid = m["id"]
    assert (m["status"], m["read_at"], m["archived_at"]) == ("unread", None, None)
    assert m["content_hash"] and len(m["content_hash"]) == 64
    read = client.post(f"{API}/messages/{mid}/read").get_json()
    assert read["status"] == "read" and read["read_at"] is not None
    assert client.post(f"{API}/messages/{mid}/read").get_json()["read_at"] == read["read_at"]
    archived = client.post(f"{API}/messages/{mid}/archive").get_json()
    assert archived["status"] == "archived" and archived["archived_at"] is not None
    assert archived["read_at"] == read["read_at"]
    updated = put(client, f"/messages/{mid}", {"content": "changed", "task_id": None}).get_json()
    assert updated["content_hash"] != m["content_hash"] and updated["task_id"] is None
    assert put(client, f"/messages/{mid}", {"status": "gone"}).status_code == 400
    assert post(client, "/messages", {"title": "no inbox"}).status_code == 400
    assert delete(client, f"/messages/{mid}").status_code == 204
    for r in (get(client, f"/messages/{mid}"), delete(client, f"/messages/{mid}"),
              client.post(f"{API}/messages/{mid}/read"), client.post(f"{API}/messages/{mid}/archive"),
              put(client, f"/messages/{mid}", {"title": "x"})):
        assert r.status_code == 404


def test_message_list_filters(client: Any) -> None:
    for i, (inbox, sender, task) in enumerate([("coder", "alice", "t1"), ("coder", "bob", None),
                                               ("reviewer", "alice", None)]):
        created(post(client, "/messages", {"id": f"m{i}", "inbox": inbox, "from_agent": sender, "task_id": task,
                                           "created_at": f"2026-01-0{i + 1}T00:00:00Z"}))
    client.post(f"{API}/messages/m1/read")

    def ids(query: str) -> list[str]:
        r = get(client, f"/messages?{query}")
        assert r.status_code == 200, r.get_json()
        return [m["id"] for m in r.get_json()["messages"]]

    assert ids("") == ["m2", "m1", "m0"]
    assert ids("inbox=coder") == ["m1", "m0"]
    assert ids("from=alice") == ["m2", "m0"]
    assert ids("task_id=t1") == ["m0"]
    assert ids("status=read") == ["m1"]
    assert ids("inbox=coder&status=unread") == ["m0"]
    assert ids("limit=2&offset=1") == ["m1", "m0"]
    assert get(client, "/messages?limit=100000").get_json()["limit"] == 1000
    assert get(client, "/messages?status=lost").status_code == 400


# -- auth and org isolation -------------------------------------------------------------------------------------------

def test_other_org_sees_404_and_read_keys_cannot_write(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from functions import _bootstrap

    keys = {"keys": [{"key": "k-acme", "org": "acme"}, {"key": "k-globex", "org": "globex"},
                     {"key": "k-reader", "org": "acme", "scopes": ["read"]}]}
    monkeypatch.setenv("OBSERVATORY_API_KEYS", json.dumps(keys))
    _bootstrap.reset()
    acme = {"Authorization": "Bearer k-acme"}
    globex = {"Authorization": "Bearer k-globex"}
    created(post(client, "/workspaces", {"id": "w1", "name": "w1"}, **acme))
    created(post(client, "/tasks", {"id": "t1", "workspace_id": "w1", "title": "t1"}, **acme))
    created(post(client, "/agents", {"id": "a1", "task_id": "t1", "agent_id": "x"}, **acme))
    created(post(client, "/messages", {"id": "m1", "inbox": "i"}, **acme))
    for path in ("/workspaces/w1", "/workspaces/w1/stats", "/tasks/t1", "/tasks/t1/agents", "/tasks/t1/timeline",
                 "/agents/a1", "/agents/a1/stats", "/messages/m1"):
        assert get(client, path, **globex).status_code == 404, path
    for path in ("/workspaces/w1", "/tasks/t1", "/agents/a1", "/messages/m1"):
        assert delete(client, path, **globex).status_code == 404
        assert put(client, path, {"name": "x", "title": "x", "agent_id": "y"}, **globex).status_code == 404
    assert client.post(f"{API}/messages/m1/read", headers=globex).status_code == 404
    assert client.post(f"{API}/tasks/t1/recalculate", headers=globex).status_code == 404
    assert get(client, "/tasks", **globex).get_json()["tasks"] == []
    assert post(client, "/agents", {"task_id": "t1", "agent_id": "x"}, **globex).status_code == 400
    assert post(client, "/tasks", {"title": "x"}, **{"Authorization": "Bearer k-reader"}).status_code == 403
    assert get(client, "/tasks/t1", **{"Authorization": "Bearer k-reader"}).status_code == 200
    assert get(client, "/tasks/t1").status_code == 401
    assert get(client, "/tasks/t1", **acme).get_json()["title"] == "t1"
