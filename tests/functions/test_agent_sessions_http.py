"""The /api/v1 agent-session routes over HTTP on embedded ClickHouse: sync (masking, git links, replay), sessions
from OTLP events, marks, errors, scopes, and the 503 of a deployment without analytics."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions import _bootstrap
from tests.payloads import log_request

SESSION = "0b1c2d3e-sync-session"
BATCH: dict[str, Any] = {
    "sessions": [{"id": SESSION, "user_id": "dev@example.com", "user_name": "Dev", "project_id": "git@x:acme/app",
                  "project_name": "app", "agent_type": "claude-code", "started_at": "2026-11-20T09:00:00Z",
                  "message_count": 3, "user_message_count": 1,
                  "first_message": "deploy with sk-ant-api03-abcdef1234567890"}],
    "messages": [
        {"session_id": SESSION, "ordinal": 0, "uuid": "u-0", "role": "user", "timestamp": "2026-11-20T09:00:00Z",
         "content": "deploy it, the key is sk-ant-api03-abcdef1234567890 and Größe zählt"},
        {"session_id": SESSION, "ordinal": 1, "uuid": "u-1", "role": "assistant", "timestamp": "2026-11-20T09:00:05Z",
         "content": "デプロイしました", "has_tool_use": True},
        {"session_id": SESSION, "ordinal": 2, "uuid": "u-2", "role": "assistant", "timestamp": "2026-11-20T09:00:09Z",
         "content": "PR opened"},
    ],
    "tool_calls": [
        {"session_id": SESSION, "message_ordinal": 1, "tool_use_id": "toolu_commit", "tool_name": "Bash",
         "input_json": json.dumps({"command": "git commit -m 'ship'"}),
         "result_content": "[main 4f2a9c1] ship\n 1 file changed, 2 insertions(+)"},
        {"session_id": SESSION, "message_ordinal": 2, "tool_use_id": "toolu_pr", "tool_name": "Bash",
         "input_json": json.dumps({"command": "gh pr create --fill"}),
         "result_content": "https://github.com/acme/app/pull/42\n"},
    ],
}


@pytest.fixture(autouse=True)
def analytics_on(monkeypatch: pytest.MonkeyPatch, analytics_dsn: str) -> None:
    monkeypatch.setenv("OBSERVATORY_CLICKHOUSE_URL", analytics_dsn)


def test_sync_masks_links_and_a_replay_changes_nothing(client: Any) -> None:
    first = client.post("/api/v1/sync", json=BATCH)
    assert first.status_code == 200, first.get_json()
    assert first.get_json() == {"sessions": 1, "messages": 3, "tool_calls": 2, "git_links": 2, "masked": 2}
    before = {p: client.get(p).get_json() for p in (
        "/api/v1/sessions", f"/api/v1/sessions/{SESSION}/messages", f"/api/v1/sessions/{SESSION}/gitlinks")}
    assert client.post("/api/v1/sync", json=BATCH).status_code == 200
    assert {p: client.get(p).get_json() for p in before} == before

    page = before["/api/v1/sessions"]
    assert page["total"] == 1 and page["sessions"][0]["commit_count"] == 1
    assert "sk-ant" not in json.dumps(before) and "[REDACTED:anthropic_key]" in json.dumps(before)
    messages = before[f"/api/v1/sessions/{SESSION}/messages"]
    assert [m["ordinal"] for m in messages] == [0, 1, 2]
    assert [t["tool_use_id"] for t in messages[1]["tool_calls"]] == ["toolu_commit"]
    links = {(g["link_type"], g["commit_sha"] or g["pr_url"], g["confidence"])
             for g in before[f"/api/v1/sessions/{SESSION}/gitlinks"]}
    assert links == {("commit", "4f2a9c1", "high"), ("pr", "https://github.com/acme/app/pull/42", "high")}


@pytest.mark.parametrize(("where", "value", "named"), [
    ("session", "0001-01-01T00:00:00Z", "sessions.0.started_at"),
    ("session", "1969-12-31T23:59:59Z", "sessions.0.started_at"),
    ("message", "2100-01-01T00:00:00Z", "messages.1.timestamp"),
])
def test_sync_refuses_times_it_could_not_keep(client: Any, where: str, value: str, named: str) -> None:
    # A session started before 1970 was filed under an expired month: a 200, then never found.
    batch = json.loads(json.dumps(BATCH))
    if where == "session":
        batch["sessions"][0]["started_at"] = value
    else:
        batch["messages"][1]["timestamp"] = value
    r = client.post("/api/v1/sync", json=batch)
    assert r.status_code == 400 and named in r.get_json()["error"]
    assert client.get("/api/v1/sessions").get_json()["total"] == 0


def test_search_finds_german_and_japanese_and_git_links(client: Any) -> None:
    assert client.post("/api/v1/sync", json=BATCH).status_code == 200
    hit = client.get("/api/v1/search", query_string={"q": "GRÖßE"}).get_json()["results"][0]  # any case
    start, end = hit["highlights"][0]["start"], hit["highlights"][0]["end"]
    assert hit["snippet"].encode()[start:end].decode().lower() == "größe"  # offsets are UTF-8 bytes
    jp = client.get("/api/v1/search", query_string={"q": "デプロイ"}).get_json()["results"]
    assert [(h["ordinal"], h["role"]) for h in jp] == [(1, "assistant")]
    sha = client.get("/api/v1/search", query_string={"q": "4f2a9c1"}).get_json()["results"]
    assert sha[0]["snippet"] == "Commit 4f2a9c1 (high confidence)"
    pr = client.get("/api/v1/gitlinks", query_string={"pr": "https://github.com/acme/app/pull/42"}).get_json()
    assert [g["session_id"] for g in pr] == [SESSION]


def test_sessions_come_from_claude_code_events_over_otlp(client: Any) -> None:
    session = "otlp-session-7"
    logs = log_request([
        {"event.name": "claude_code.user_prompt", "session.id": session, "prompt": "refactor the parser",
         "prompt_length": 19, "user.email": "otlp@example.com"},
        {"event.name": "claude_code.api_request", "session.id": session, "model": "claude-sonnet-4-5",
         "input_tokens": 120, "output_tokens": 40, "cost_usd": 0.01, "request_id": "req_otlp_1"},
        {"event.name": "claude_code.tool_result", "session.id": session, "tool_name": "Bash",
         "tool_use_id": "toolu_otlp_1", "success": "true",
         "tool_parameters": json.dumps({"bash_command": "git commit -m parser"})},
    ])
    pb = {"Content-Type": "application/x-protobuf"}
    assert client.post("/v1/logs", data=logs.SerializeToString(), headers=pb).status_code == 200
    _bootstrap.container().bus.drain()  # the export worker's pass
    got = client.get(f"/api/v1/sessions/{session}")
    assert got.status_code == 200, got.get_json()
    assert got.get_json()["agent_type"] and got.get_json()["user_message_count"] == 1
    messages = client.get(f"/api/v1/sessions/{session}/messages").get_json()
    assert [m["content"] for m in messages if m["role"] == "user"] == ["refactor the parser"]
    assert client.post("/v1/logs", data=logs.SerializeToString(), headers=pb).status_code == 200  # a replay
    _bootstrap.container().bus.drain()
    assert client.get(f"/api/v1/sessions/{session}/messages").get_json() == messages


def test_an_otlp_message_and_its_synced_transcript_line_are_one_message(client: Any) -> None:
    session = "otlp-and-transcript"
    logs = log_request([
        {"event.name": "claude_code.user_prompt", "session.id": session, "prompt": "add a cache",
         "message.uuid": "5e1d-user-uuid"},
        {"event.name": "claude_code.assistant_response", "session.id": session, "response": "Added an LRU cache.",
         "model": "claude-sonnet-4-5", "message.uuid": "7a2c-assistant-uuid"},
    ])
    assert client.post("/v1/logs", data=logs.SerializeToString(),
                       headers={"Content-Type": "application/x-protobuf"}).status_code == 200
    _bootstrap.container().bus.drain()
    transcript = {"sessions": [{"id": session, "agent_type": "claude-code", "started_at": "2026-11-20T09:00:00Z"}],
                  "messages": [{"session_id": session, "ordinal": 0, "uuid": "5e1d-user-uuid", "role": "user",
                                "timestamp": "2026-11-20T09:00:00Z", "content": "add a cache"},
                               {"session_id": session, "ordinal": 1, "uuid": "7a2c-assistant-uuid",
                                "role": "assistant", "timestamp": "2026-11-20T09:00:04Z",
                                "content": "Added an LRU cache."}]}
    assert client.post("/api/v1/sync", json=transcript).status_code == 200
    messages = client.get(f"/api/v1/sessions/{session}/messages").get_json()
    assert sorted((m["uuid"], m["role"], m["content"]) for m in messages) == [
        ("5e1d-user-uuid", "user", "add a cache"), ("7a2c-assistant-uuid", "assistant", "Added an LRU cache.")]


def test_otlp_seen_after_the_transcript_keeps_the_transcripts_order(client: Any) -> None:
    session = "transcript-then-otlp"
    transcript = {"sessions": [{"id": session, "agent_type": "claude-code", "started_at": "2026-11-20T09:00:00Z"}],
                  "messages": [{"session_id": session, "ordinal": 0, "uuid": "u-user", "role": "user",
                                "timestamp": "2026-11-20T09:00:00Z", "content": "add a cache"},
                               {"session_id": session, "ordinal": 1, "uuid": "u-assistant", "role": "assistant",
                                "timestamp": "2026-11-20T09:00:04Z", "content": "Added an LRU cache.",
                                "has_tool_use": True},
                               {"session_id": session, "ordinal": 2, "uuid": "u-thanks", "role": "user",
                                "timestamp": "2026-11-20T09:01:00Z", "content": "thanks"}],
                  "tool_calls": [{"session_id": session, "message_ordinal": 1, "tool_use_id": "toolu_tr_1",
                                  "tool_name": "Edit"}]}
    assert client.post("/api/v1/sync", json=transcript).status_code == 200
    logs = log_request([
        {"event.name": "claude_code.user_prompt", "session.id": session, "prompt": "add a cache",
         "message.uuid": "u-user"},
        {"event.name": "claude_code.assistant_response", "session.id": session, "response": "Added an LRU cache.",
         "model": "claude-sonnet-4-5", "message.uuid": "u-assistant"},
        {"event.name": "claude_code.tool_result", "session.id": session, "tool_name": "Edit",
         "tool_use_id": "toolu_tr_1", "success": "true"},
    ])
    assert client.post("/v1/logs", data=logs.SerializeToString(),
                       headers={"Content-Type": "application/x-protobuf"}).status_code == 200
    _bootstrap.container().bus.drain()  # the export worker's pass
    messages = client.get(f"/api/v1/sessions/{session}/messages").get_json()
    assert [(m["ordinal"], m["uuid"]) for m in messages] == [(0, "u-user"), (1, "u-assistant"), (2, "u-thanks")]
    assert [(t["tool_use_id"], t["tool_name"]) for t in messages[1]["tool_calls"]] == [("toolu_tr_1", "Edit")]


def test_marks_are_set_listed_and_withdrawn_only_on_known_sessions(client: Any) -> None:
    assert client.post("/api/v1/sync", json=BATCH).status_code == 200
    base = f"/api/v1/sessions/{SESSION}"
    assert client.post(f"{base}/stars", json={"user_id": "dev@example.com"}).status_code == 204
    assert client.post(f"{base}/pins", json={"user_id": "dev@example.com", "message_ordinal": 1,
                                             "note": "the deploy"}).status_code == 204
    assert client.post("/api/v1/session-deletes", json={"session_id": SESSION, "user_id": "dev@example.com"}
                       ).status_code == 204
    assert [s["user_id"] for s in client.get(f"{base}/stars").get_json()] == ["dev@example.com"]
    assert [(p["message_ordinal"], p["note"]) for p in client.get(f"{base}/pins").get_json()] == [(1, "the deploy")]
    assert [d["session_id"] for d in client.get("/api/v1/session-deletes").get_json()] == [SESSION]
    assert client.delete(f"{base}/stars", query_string={"user_id": "dev@example.com"}).status_code == 204
    assert client.delete(f"{base}/pins", query_string={"user_id": "dev@example.com", "message_ordinal": 1}
                         ).status_code == 204
    assert client.delete("/api/v1/session-deletes", query_string={"session_id": SESSION, "user_id": "dev@example.com"}
                         ).status_code == 204
    assert client.get(f"{base}/stars").get_json() == [] and client.get(f"{base}/pins").get_json() == []
    assert client.get("/api/v1/session-deletes").get_json() == []
    assert client.post("/api/v1/sessions/nope/stars", json={"user_id": "x"}).status_code == 404
    assert client.get("/api/v1/sessions/nope/messages").status_code == 404


@pytest.mark.parametrize(("path", "params", "named"), [
    ("/api/v1/sessions", {"cursor": "not-base64!"}, "cursor"),
    ("/api/v1/sessions", {"date_from": "2026-13-01"}, "date_from"),
    ("/api/v1/search", {}, "q"),
    ("/api/v1/analytics/heatmap", {"tz": "Mars/Olympus"}, "tz"),
    ("/api/v1/gitlinks", {}, "sha"),
])
def test_bad_parameters_are_400_naming_them(client: Any, path: str, params: dict[str, str], named: str) -> None:
    r = client.get(path, query_string=params)
    assert r.status_code == 400 and named in r.get_json()["error"], r.get_json()


def test_sync_needs_the_write_scope(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBSERVATORY_API_KEYS", json.dumps({"keys": [
        {"key": "reader", "org": "acme", "scopes": ["read"]}, {"key": "writer", "org": "acme", "scopes": ["write"]}]}))
    _bootstrap.reset()
    assert client.post("/api/v1/sync", json=BATCH, headers={"Authorization": "Bearer reader"}).status_code == 403
    assert client.post("/api/v1/sync", json=BATCH, headers={"Authorization": "Bearer writer"}).status_code == 200
    assert client.get("/api/v1/sessions", headers={"Authorization": "Bearer reader"}).get_json()["total"] == 1
    assert client.get("/api/v1/sessions").status_code == 401


def test_without_analytics_the_routes_say_so(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBSERVATORY_CLICKHOUSE_URL", "off")
    _bootstrap.reset()
    r = client.get("/api/v1/sessions")
    assert r.status_code == 503 and "OBSERVATORY_CLICKHOUSE_URL" in r.get_json()["error"]
    assert client.get("/api/observatory/breakdowns/model").status_code == 200  # insights fall back to the Store
