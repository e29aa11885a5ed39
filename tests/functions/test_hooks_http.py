"""The HTTP contract of the `hooks` function: Claude Code hook payloads (captured shapes under tests/fixtures/hooks)
replayed through the local stack: sessions, tool calls, masking, session end, span links, replays, isolation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.models import SpanQuery
from core.ports.hook_records import HookLinks
from functions import _bootstrap
from tests.payloads import trace_request

API = "/api/observatory"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "hooks"
SESSION = "0b5c2f7e-3f1a-4e8b-9d2c-6a1e7f4b8c90"
CWD = "/home/dev/src/observatory"
T0 = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z
BASH_ID, WRITE_ID, FAILED_ID = "toolu_01Hx6qB9CwZkT3mV8nRpLd2F", "toolu_01Wq4sYb7NcE2kJ5aT9uGh3M", \
    "toolu_01Fa1LedCmdZp8Yx3Qv6Rw0N"
# Secrets the fixtures carry: none may come back from any read.
SECRETS = ("ghp_R4nd0mT0k3nV4lu3F0rT3st1ngPurp0s3s0nly", "Sup3rS3cret", "eyJhbGciOiJIUzI1NiJ9", "Pr0dPassw0rd",
           "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789")

# A whole session as Claude Code fires it: (fixture, seconds after T0).
SESSION_HOOKS = [
    ("session_start", 0.0), ("user_prompt_submit", 1.0), ("pre_tool_use_bash", 2.0), ("post_tool_use_bash", 4.5),
    ("pre_tool_use_write", 5.0), ("post_tool_use_write", 5.25), ("pre_tool_use_read_no_id", 6.0),
    ("post_tool_use_read_no_id", 6.5), ("notification", 7.0), ("post_tool_use_failure", 9.0),
    ("subagent_stop", 10.0), ("stop", 11.0), ("pre_compact", 11.5), ("session_end", 12.0),
]


def fixture(name: str, **changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    doc.update(changes)
    return doc


def at(seconds: float) -> str:
    return str(T0 + int(seconds * 1e9))


def hook(client: Any, payload: Any, seconds: float | None = None, **headers: str) -> Any:
    if seconds is not None:
        headers["X-Observatory-Hook-Time"] = at(seconds)
    return client.post(f"{API}/hooks", data=json.dumps(payload), headers={"Content-Type": "application/json",
                                                                             **headers})


def ok(r: Any) -> dict[str, Any]:
    assert r.status_code == 200, r.get_json()
    body: dict[str, Any] = r.get_json()
    assert body["ok"] is True
    return body


def play(client: Any, hooks: list[tuple[str, float]] = SESSION_HOOKS, **headers: str) -> list[dict[str, Any]]:
    return [ok(hook(client, fixture(name), seconds, **headers)) for name, seconds in hooks]


def get(client: Any, path: str, **headers: str) -> dict[str, Any]:
    r = client.get(f"{API}{path}", headers=headers)
    assert r.status_code == 200, (path, r.get_json())
    body: dict[str, Any] = r.get_json()
    return body


def tools(client: Any, session: str = SESSION, **headers: str) -> dict[str, dict[str, Any]]:
    return {t["tool_use_id"]: t for t in get(client, f"/sessions/{session}/tools", **headers)["tools"]}


def reads(client: Any, session: str = SESSION, **headers: str) -> list[Any]:
    """Everything a reader sees of the session."""
    return [get(client, f"/sessions/{session}", **headers), get(client, f"/sessions/{session}/tools", **headers),
            get(client, f"/sessions/{session}/events", **headers)]


def test_a_whole_session_of_hooks(client: Any) -> None:
    acks = play(client)
    assert [a["hook_event_name"] for a in acks] == [
        "SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "PreToolUse", "PostToolUse", "PreToolUse",
        "PostToolUse", "Notification", "PostToolUseFailure", "SubagentStop", "Stop", "PreCompact", "SessionEnd"]
    assert all(a["session_id"] == SESSION and a["replayed"] is False for a in acks)
    assert acks[2]["tool_use_id"] == acks[3]["tool_use_id"] == BASH_ID
    assert acks[6]["tool_use_id"] == acks[7]["tool_use_id"]  # matched without an id
    assert acks[6]["tool_use_id"].startswith("hook:")

    session = get(client, f"/sessions/{SESSION}")
    assert (session["workspace"], session["source_type"], session["models"]) == (
        CWD, "claude_code", ["claude-sonnet-4-5-20250929"])
    assert session["started_at"] == "2026-01-01T00:00:00Z"
    assert session["last_seen_at"] == "2026-01-01T00:00:12Z"

    calls = tools(client)
    assert len(calls) == 4
    bash, write, failed = calls[BASH_ID], calls[WRITE_ID], calls[FAILED_ID]
    read = calls[acks[6]["tool_use_id"]]
    assert (bash["tool_name"], bash["success"], bash["duration_ms"], bash["start_time"]) == (
        "Bash", True, 2500.0, "2026-01-01T00:00:02Z")
    assert json.loads(bash["tool_input"])["description"] == "List releases"
    assert "Authorization: Bearer [REDACTED:" in json.loads(bash["tool_input"])["command"]
    assert "postgres://[REDACTED:db_url]@db.internal:5432/app" in json.loads(bash["tool_response"])["stdout"]
    assert (write["tool_name"], write["success"], write["duration_ms"]) == ("Write", True, 250.0)
    assert "ANTHROPIC_API_KEY=[REDACTED:anthropic_key]" in json.loads(write["tool_input"])["content"]
    assert json.loads(write["tool_response"])["filePath"] == f"{CWD}/.env.example"
    assert (read["tool_name"], read["success"], read["duration_ms"]) == ("Read", True, 500.0)
    assert json.loads(read["tool_response"])["file"]["content"] == "# Observatory\n"
    # A failure with no start on record: its end is its only time.
    assert (failed["success"], failed["duration_ms"], failed["start_time"]) == (False, None, "2026-01-01T00:00:09Z")
    assert failed["error"] == "Command failed with exit code 1: 2 failed, 40 passed"

    events = get(client, f"/sessions/{SESSION}/events")["events"]
    names = [e["name"] for e in events]
    assert names[:3] == ["claude_code.hook.session_start", "claude_code.user_prompt", "claude_code.hook.pre_tool_use"]
    assert names[-2:] == ["claude_code.hook.pre_compact", "claude_code.hook.session_end"]
    prompt = events[1]["attributes"]["prompt"]
    assert "[REDACTED:github_token]" in prompt and "[REDACTED:generic_secret]" in prompt
    assert prompt.startswith("Push the release; the deploy token is ")
    notification = next(e for e in events if e["name"] == "claude_code.hook.notification")
    assert notification["body"] == "Claude needs your permission to use Bash"
    assert events[0]["attributes"] == {"hook_event_name": "SessionStart", "cwd": CWD, "source": "startup"}
    assert events[-1]["attributes"]["reason"] == "prompt_input_exit"

    text = json.dumps(reads(client))
    leaked = [s for s in SECRETS if s in text]
    assert not leaked

    state = _bootstrap.container().store.hook_session("default", SESSION)
    assert state is not None
    assert (state.ended_ns, state.end_reason, state.start_source) == (T0 + 12 * 10**9, "prompt_input_exit", "startup")
    assert state.transcript_path == fixture("stop")["transcript_path"]
    view = get(client, f"/sessions/{SESSION}")  # the session API shows the end too
    assert (view["end_reason"], view["transcript_path"]) == ("prompt_input_exit", state.transcript_path)
    assert view["ended_at"] is not None

    _bootstrap.container().bus.drain()  # the aggregate worker's pass: the rollup counts the hooks' tool calls
    summary = get(client, f"/sessions/{SESSION}/metrics")
    assert (summary["tool_calls"], summary["error_count"]) == (4, 1)


def test_replaying_any_hook_changes_nothing(client: Any) -> None:
    play(client)
    _bootstrap.container().bus.drain()
    before = reads(client)
    state = _bootstrap.container().store.hook_session("default", SESSION)
    replays = play(client) + play(client, list(reversed(SESSION_HOOKS)))
    assert all(a["replayed"] for a in replays)
    assert replays[3]["tool_use_id"] == BASH_ID and replays[7]["tool_use_id"].startswith("hook:")
    _bootstrap.container().bus.drain()
    assert reads(client) == before
    assert _bootstrap.container().store.hook_session("default", SESSION) == state

    # Without a hook time the server's clock stamps the hook; the same payload again is still a replay.
    payload = fixture("stop", session_id="sess-no-time")
    first = ok(hook(client, payload))
    seen = get(client, "/sessions/sess-no-time")
    again = ok(hook(client, payload))
    assert (first["replayed"], again["replayed"]) == (False, True)
    assert get(client, "/sessions/sess-no-time") == seen


def test_a_tool_start_replayed_or_redelivered_never_reopens_a_finished_call(client: Any) -> None:
    play(client, [("pre_tool_use_bash", 1.0), ("post_tool_use_bash", 2.0)])
    done = tools(client)[BASH_ID]
    # The same start again (a replay), then re-sent later by another path (a new hook time: not a replay).
    assert ok(hook(client, fixture("pre_tool_use_bash"), 1.0))["replayed"] is True
    assert ok(hook(client, fixture("pre_tool_use_bash"), 3.0))["replayed"] is False
    assert tools(client)[BASH_ID] == done
    assert (done["success"], done["duration_ms"], done["start_time"]) == (True, 1000.0, "2026-01-01T00:00:01Z")


def test_an_end_without_id_finishes_the_latest_unfinished_call_of_that_tool(client: Any) -> None:
    pre, post = fixture("pre_tool_use_read_no_id"), fixture("post_tool_use_read_no_id")
    first = ok(hook(client, pre, 1.0))["tool_use_id"]
    second = ok(hook(client, {**pre, "tool_input": {"file_path": f"{CWD}/pyproject.toml"}}, 2.0))["tool_use_id"]
    other = ok(hook(client, fixture("pre_tool_use_bash"), 2.5))["tool_use_id"]
    assert len({first, second, other}) == 3
    assert ok(hook(client, post, 3.0))["tool_use_id"] == second
    assert ok(hook(client, {**post, "tool_response": {"type": "text"}}, 3.5))["tool_use_id"] == first
    calls = tools(client)
    assert (calls[second]["duration_ms"], calls[first]["duration_ms"]) == (1000.0, 2500.0)
    assert calls[other]["success"] is None and calls[other]["duration_ms"] is None  # another tool: still running
    # Nothing left to finish: the end is a call of its own, without a start.
    orphan = ok(hook(client, {**post, "tool_response": {"type": "orphan"}}, 4.0))["tool_use_id"]
    assert orphan not in (first, second) and tools(client)[orphan]["duration_ms"] is None


def test_an_end_that_arrives_before_its_start(client: Any) -> None:
    ok(hook(client, fixture("post_tool_use_write"), 5.25))
    call = tools(client)[WRITE_ID]
    assert (call["success"], call["duration_ms"], call["start_time"]) == (True, None, "2026-01-01T00:00:05.250000Z")
    ok(hook(client, fixture("pre_tool_use_write"), 5.0))
    call = tools(client)[WRITE_ID]
    assert (call["success"], call["duration_ms"], call["start_time"]) == (True, 250.0, "2026-01-01T00:00:05Z")


def test_a_resumed_session_is_open_again(client: Any) -> None:
    play(client, [("session_start", 0.0), ("session_end", 5.0)])
    store = _bootstrap.container().store
    ended = store.hook_session("default", SESSION)
    assert ended is not None and ended.ended_ns == T0 + 5 * 10**9
    ok(hook(client, fixture("session_start", source="resume"), 60.0))
    resumed = store.hook_session("default", SESSION)
    assert resumed is not None
    assert (resumed.ended_ns, resumed.end_reason, resumed.start_source) == (None, None, "startup")
    ok(hook(client, fixture("session_end", reason="clear"), 90.0))
    again = store.hook_session("default", SESSION)
    assert again is not None and (again.ended_ns, again.end_reason) == (T0 + 90 * 10**9, "clear")
    assert get(client, f"/sessions/{SESSION}")["last_seen_at"] == "2026-01-01T00:01:30Z"


def _ingest(client: Any, n: int, session: str = SESSION) -> None:
    req = trace_request(n, service="claude-code", attrs={"session.id": session})
    r = client.post("/v1/traces", data=req.SerializeToString(), headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 200


def _spans(session: str = SESSION) -> list[Any]:
    return _bootstrap.container().store.list_spans("default", SpanQuery(session_id=session, limit=100))


def test_hooks_give_the_session_its_workspace_and_links_and_its_spans_too(client: Any) -> None:
    _ingest(client, 3)  # spans that came before any hook: no workspace, no task
    assert {(s.workspace, s.task_id) for s in _spans()} == {("unknown", None)}
    ack = ok(hook(client, fixture("session_start", chain_id="chain-7", stage_id="stage-7-2"), 0.0,
                  **{"X-Observatory-Task-ID": "task-42", "X-Observatory-Message-ID": "msg-9"}))
    assert ack["replayed"] is False
    spans = _spans()
    assert {(s.workspace, s.task_id) for s in spans} == {(CWD, "task-42")}
    stored = _bootstrap.container().store.list_spans("default", SpanQuery(task_id="task-42", limit=100))
    assert len(stored) == 3
    state = _bootstrap.container().store.hook_session("default", SESSION)
    assert state is not None
    assert state.links == HookLinks("task-42", "chain-7", "stage-7-2", "msg-9")
    trace = get(client, f"/traces/{stored[0].trace_id}")
    assert {(s["chain_id"], s["stage_id"]) for s in trace["spans"]} == {("chain-7", "stage-7-2")}
    _ingest(client, 2)  # spans after the hook: ingest finds the session's workspace and task link
    assert len(_spans()) == 5 and {(s.workspace, s.task_id) for s in _spans()} == {(CWD, "task-42")}
    # A header wins over the body; an explicit link never re-links a span that has one.
    ok(hook(client, fixture("stop", task_id="task-body"), 1.0, **{"X-Observatory-Task-ID": "task-43"}))
    assert {s.task_id for s in _spans()} == {"task-42"}
    state = _bootstrap.container().store.hook_session("default", SESSION)
    assert state is not None and state.links.task_id == "task-43"


def test_bad_hooks_are_400_naming_the_field_and_store_nothing(client: Any) -> None:
    start = fixture("session_start")
    cases = [
        ({k: v for k, v in start.items() if k != "hook_event_name"}, {}, "hook_event_name"),
        ({k: v for k, v in start.items() if k != "session_id"}, {}, "session_id"),
        ({**start, "session_id": 42}, {}, "session_id"),
        ({**start, "session_id": "a/b"}, {}, "session_id"),
        ({**start, "hook_event_name": ["SessionStart"]}, {}, "hook_event_name"),
        ({**fixture("user_prompt_submit"), "prompt": {"text": "hi"}}, {}, "prompt"),
        ({**fixture("pre_tool_use_bash"), "tool_name": None}, {}, "tool_name"),
        ({**fixture("post_tool_use_bash"), "tool_use_id": 7}, {}, "tool_use_id"),
        ({**start, "cwd": ["/a"]}, {}, "cwd"),
        (start, {"X-Observatory-Hook-Time": "yesterday"}, "X-Observatory-Hook-Time"),
        (start, {"X-Observatory-Hook-Time": "99999999999999999999"}, "X-Observatory-Hook-Time"),
        (start, {"X-Observatory-Task-ID": "no spaces please"}, "X-Observatory-Task-ID"),
        ([start], {}, "body"),
        ("SessionStart", {}, "body"),
    ]
    for payload, headers, name in cases:
        r = hook(client, payload, **headers)
        assert r.status_code == 400, (payload, r.get_json())
        assert f"'{name}'" in r.get_json()["error"], (name, r.get_json())
    for raw in (b"", b"{not json"):
        r = client.post(f"{API}/hooks", data=raw, headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and "error" in r.get_json()
    assert client.get(f"{API}/sessions/{SESSION}").status_code == 404
    assert client.get(f"{API}/hooks").status_code == 405


def test_rfc3339_hook_times_and_unknown_fields(client: Any) -> None:
    payload = fixture("stop", future_field={"nested": [1, 2]}, stop_hook_active=True)
    ok(hook(client, payload, **{"X-Observatory-Hook-Time": "2026-01-01T00:00:07.5Z"}))
    assert get(client, f"/sessions/{SESSION}")["last_seen_at"] == "2026-01-01T00:00:07.500000Z"


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBSERVATORY_API_KEYS", json.dumps({"keys": [
        {"key": "agent-a", "org": "org-a", "scopes": ["ingest"]},
        {"key": "reader-a", "org": "org-a", "scopes": ["read"]},
        {"key": "agent-b", "org": "org-b", "scopes": ["ingest", "read"]},
    ]}))


def test_hooks_need_the_ingest_scope_and_stay_in_their_org(client: Any, keys: None) -> None:
    agent_a, reader_a, agent_b = ({"Authorization": f"Bearer {k}"} for k in ("agent-a", "reader-a", "agent-b"))
    assert hook(client, fixture("session_start"), 0.0).status_code == 401
    assert hook(client, fixture("session_start"), 0.0, **reader_a).status_code == 403
    play(client, SESSION_HOOKS[:4], **agent_a)
    seen_by_a = reads(client, **reader_a)
    assert client.get(f"{API}/sessions/{SESSION}", headers=agent_b).status_code == 404

    # Org B sends the very same payloads (same session id, tool ids and times): its own records, not replays.
    acks = play(client, [("session_start", 0.0), ("pre_tool_use_bash", 100.0)], **agent_b)
    assert [a["replayed"] for a in acks] == [False, False]
    b_calls = tools(client, **agent_b)
    assert list(b_calls) == [BASH_ID] and b_calls[BASH_ID]["success"] is None
    assert b_calls[BASH_ID]["start_time"] == "2026-01-01T00:01:40Z"
    assert [e["name"] for e in get(client, f"/sessions/{SESSION}/events", **agent_b)["events"]] == [
        "claude_code.hook.session_start", "claude_code.hook.pre_tool_use"]
    assert reads(client, **reader_a) == seen_by_a


def test_large_content_is_cut_after_masking_and_odd_text_is_stored(client: Any) -> None:
    from core.hooks import MAX_CONTENT_CHARS

    stdout = "x" * (MAX_CONTENT_CHARS + 1000) + " token=Zz9Zz9Zz9Zz9"
    big = fixture("post_tool_use_bash", tool_response={"stdout": "password=Hunter2Hunter2 " + stdout})
    ok(hook(client, big, 1.0))
    stored = tools(client)[BASH_ID]["tool_response"]
    assert stored.startswith('{"stdout":"password=[REDACTED:generic_secret] xxx')
    assert stored.endswith("characters]") and len(stored) < MAX_CONTENT_CHARS + 100
    # JSON may escape a lone surrogate (not storable UTF-8): content keeps it as "?"; a name or path refuses it.
    raw = json.dumps(fixture("user_prompt_submit", prompt="fix \ud83d the bug"))
    ok(client.post(f"{API}/hooks", data=raw, headers={"Content-Type": "application/json"}))
    assert get(client, f"/sessions/{SESSION}/events")["events"][-1]["attributes"]["prompt"] == "fix ? the bug"
    raw = json.dumps(fixture("pre_tool_use_write", tool_input={"content": "a \udcff b"}))
    ok(client.post(f"{API}/hooks", data=raw, headers={"Content-Type": "application/json"}))
    assert json.loads(tools(client)[WRITE_ID]["tool_input"]) == {"content": "a ? b"}
    raw = json.dumps(fixture("stop", cwd="/src/\udcff"))
    r = client.post(f"{API}/hooks", data=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "'cwd'" in r.get_json()["error"]


def test_erasing_the_session_erases_what_hooks_told(client: Any) -> None:
    play(client, SESSION_HOOKS[:4])
    assert client.delete(f"{API}/sessions/{SESSION}").status_code in (200, 204)
    assert client.get(f"{API}/sessions/{SESSION}").status_code == 404
    assert _bootstrap.container().store.hook_session("default", SESSION) is None
    assert _bootstrap.container().store.session_tool_calls("default", SESSION) == []
    assert _bootstrap.container().store.session_events("default", SESSION) == []


def test_hooks_reach_the_analytics_store_as_they_reach_the_store(client: Any, monkeypatch: pytest.MonkeyPatch,
                                                                  analytics_dsn: str) -> None:
    from datetime import UTC, datetime, timedelta

    from tests.payloads import stable

    monkeypatch.setenv("OBSERVATORY_CLICKHOUSE_URL", analytics_dsn)
    _bootstrap.reset()
    _ingest(client, 3)  # spans before any hook: the session start gives them its workspace and task
    for name, seconds in SESSION_HOOKS:
        ok(hook(client, fixture(name), seconds, **{"X-Observatory-Task-ID": "task-42"}))
    c = _bootstrap.container()
    c.bus.drain()
    until = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    window = f"start_date=2025-12-31&end_date={until}"
    paths = [f"{API}/metrics/summary?{window}", f"{API}/heatmap?{window}",
             *(f"{API}/breakdowns/{d}?{window}" for d in ("model", "source_type", "workspace")),
             f"{API}/metrics/summary?{window}&source_type=claude_code"]
    from_store = {p: client.get(p).get_json() for p in paths}
    summary = from_store[paths[0]]
    assert summary["total_spans"] == 3 and summary["tool_calls"] >= 4 and summary["failed_tool_calls"] >= 1
    monkeypatch.setenv("OBSERVATORY_INSIGHTS", "analytics")
    _bootstrap.reset()
    for p in paths:
        assert stable(client.get(p).get_json()) == stable(from_store[p]), p
    messages = client.get(f"/api/v1/sessions/{SESSION}/messages").get_json()
    assert [m["role"] for m in messages].count("user") == 1
