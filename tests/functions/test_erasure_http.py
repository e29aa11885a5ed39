"""DELETE /api/observatory/sessions/{id}: erase a session and everything recorded for it, in the caller's org."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.payloads import gemini_json, log_request, trace_request

API = "/api/observatory"


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBSERVATORY_API_KEYS", json.dumps({"keys": [
        {"key": "acme", "org": "acme", "scopes": ["ingest", "read", "write"]},
        {"key": "globex", "org": "globex", "scopes": ["ingest", "read", "write"]},
    ]}))


def auth(org: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {org}"}


def record(client: Any, org: str, session: str) -> None:
    """Spans (an LLM call and a tool call), log events, a legacy session span: all of one session."""
    pb = {"Content-Type": "application/x-protobuf", **auth(org)}
    llm = trace_request(2, service="claude-code", attrs={
        "session.id": session, "gen_ai.operation.name": "chat", "gen_ai.request.model": "claude-haiku-4-5",
        "input_tokens": 10, "output_tokens": 5})
    tool = trace_request(1, service="claude-code", attrs={
        "session.id": session, "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "Bash",
        "gen_ai.tool.call.id": f"call-{session}"})
    logs = log_request([{"event.name": "claude_code.user_prompt", "session.id": session, "prompt": "hi"},
                        {"event.name": "claude_code.tool_result", "session.id": session, "tool_name": "Bash",
                         "tool_use_id": f"call-{session}", "success": "true"}])
    assert client.post("/v1/traces", data=llm.SerializeToString(), headers=pb).status_code == 200
    assert client.post("/v1/traces", data=tool.SerializeToString(), headers=pb).status_code == 200
    assert client.post("/v1/logs", data=logs.SerializeToString(), headers=pb).status_code == 200
    metrics = json.dumps(gemini_json(session, 1_772_359_200_000_000_000)["metrics"])
    assert client.post("/v1/metrics", data=metrics,
                       headers={"Content-Type": "application/json", **auth(org)}).status_code == 200
    legacy = {"session_id": session, "model": "claude-haiku-4-5", "total_input_tokens": 5,
              "start_time": "2026-03-01T10:00:00Z", "end_time": "2026-03-01T10:01:00Z", "status": "completed"}
    r = client.post(f"{API}/ingest/claude", data=json.dumps(legacy),
                    headers={"Content-Type": "application/json", **auth(org)})
    assert r.status_code == 201


def view(client: Any, org: str, session: str) -> dict[str, Any]:
    h = auth(org)

    def count(path: str) -> int:
        r = client.get(f"{API}{path}", headers=h)
        if r.status_code == 404:  # a session's sub-resources answer 404 once the session is gone
            return 0
        assert r.status_code == 200, r.get_json()
        return int(r.get_json()["count"])

    return {
        "session": client.get(f"{API}/sessions/{session}", headers=h).status_code,
        "spans": count(f"/spans?session_id={session}&limit=1000"),
        "llm_calls": count(f"/sessions/{session}/llm-calls"),
        "tools": count(f"/sessions/{session}/tools"),
        "events": count(f"/sessions/{session}/events"),
        "metrics": count(f"/telemetry/metrics?session_id={session}"),
        "traces": count(f"/traces?session_id={session}"),
    }


def test_purge_erases_everything_of_the_session(client: Any, keys: None) -> None:
    record(client, "acme", "s1")
    before = view(client, "acme", "s1")
    assert before["session"] == 200 and before["spans"] == 4 and before["llm_calls"] == 2
    assert before["tools"] == 1 and before["events"] == 2 and before["metrics"] == 1
    r = client.delete(f"{API}/sessions/s1", headers=auth("acme"))
    assert r.status_code == 204 and r.data == b""
    assert view(client, "acme", "s1") == {"session": 404, "spans": 0, "llm_calls": 0, "tools": 0, "events": 0,
                                          "metrics": 0, "traces": 0}
    assert client.get(f"{API}/traces/claude-s1", headers=auth("acme")).status_code == 404


def test_other_sessions_and_orgs_are_untouched(client: Any, keys: None) -> None:
    record(client, "acme", "s1")
    record(client, "acme", "s2")
    record(client, "globex", "s1")
    s2, globex = view(client, "acme", "s2"), view(client, "globex", "s1")
    assert client.delete(f"{API}/sessions/s1", headers=auth("acme")).status_code == 204
    assert view(client, "acme", "s2") == s2
    assert view(client, "globex", "s1") == globex
    assert globex["spans"] == 4 and globex["session"] == 200


def test_unknown_session_is_404(client: Any, keys: None) -> None:
    record(client, "globex", "s1")
    r = client.delete(f"{API}/sessions/s1", headers=auth("acme"))  # exists only in another org
    assert r.status_code == 404 and "s1" in r.get_json()["error"]
    assert client.delete(f"{API}/sessions/nope", headers=auth("globex")).status_code == 404
    assert view(client, "globex", "s1")["spans"] == 4


def test_second_delete_is_404(client: Any) -> None:
    record(client, "default", "s1")
    assert client.delete(f"{API}/sessions/s1").status_code == 204
    assert client.delete(f"{API}/sessions/s1").status_code == 404


def test_purge_logs_counts_only(client: Any, caplog: pytest.LogCaptureFixture) -> None:
    record(client, "default", "s1")
    with caplog.at_level("INFO", logger="core.erasure"):
        assert client.delete(f"{API}/sessions/s1").status_code == 204
    [line] = [r.getMessage() for r in caplog.records if r.name == "core.erasure"]
    assert "'spans': 4" in line and "prompt" not in line and "hi" not in line.split("rows")[1]


def test_rollup_worker_ignores_a_purged_session(client: Any) -> None:
    from functions._bootstrap import container

    record(client, "default", "s1")
    assert client.delete(f"{API}/sessions/s1").status_code == 204
    container().bus.drain()  # pending rollup messages of the purged session: nothing is recreated
    assert client.get(f"{API}/sessions/s1").status_code == 404
    assert client.get(f"{API}/sessions/s1/metrics").status_code == 404


def test_task_totals_are_recomputed_after_a_purge(client: Any) -> None:
    from functions._bootstrap import container

    assert client.post(f"{API}/tasks", json={"id": "task-1", "title": "t"}).status_code == 201
    for session in ("s1", "s2"):
        req = trace_request(3, service="claude-code", attrs={"session.id": session, "observatory.task_id": "task-1"})
        assert client.post("/v1/traces", data=req.SerializeToString(),
                           headers={"Content-Type": "application/x-protobuf"}).status_code == 200
    container().bus.drain()
    assert client.get(f"{API}/tasks/task-1").get_json()["span_count"] == 6
    assert client.delete(f"{API}/sessions/s1").status_code == 204
    container().bus.drain()
    assert client.get(f"{API}/tasks/task-1").get_json()["span_count"] == 3


def _history_rows(analytics: Any, org: str, session: str) -> dict[str, int]:
    """Rows of the session in every history table, as reads see them (FINAL: a replay's rows are one row)."""
    from core.adapters.clickhouse import history_schema as schema

    conn = analytics.history._conn
    out = {}
    for table in schema.TABLES:
        column = "tupleElement(session_id, 2)" if table == schema.TOOL_CALLS else "session_id"
        sql = (f"SELECT count() FROM `{conn.database}`.{table} FINAL WHERE org_id = {{org:String}} "
               f"AND {column} = {{sid:String}}")
        out[table] = int(conn.client.query(sql, parameters={"org": org, "sid": session}).result_rows[0][0])
    return out


def test_an_erasure_reaches_analytics_and_a_stale_export_does_not_undo_it(
        client: Any, keys: None, monkeypatch: pytest.MonkeyPatch, analytics_dsn: str) -> None:
    from core.analytics_export import export_payloads
    from core.ports.bus import TELEMETRY_INGESTED
    from functions import _bootstrap

    monkeypatch.setenv("OBSERVATORY_CLICKHOUSE_URL", analytics_dsn)
    _bootstrap.reset()
    c = _bootstrap.container()
    delivered: list[bytes] = []  # the ingest messages, to redeliver once the session is erased
    c.bus.subscribe(TELEMETRY_INGESTED, delivered.extend)
    record(client, "acme", "erase-me")
    record(client, "acme", "keep-me")
    c.bus.drain()
    h = auth("acme")
    kept = _history_rows(c.analytics, "acme", "keep-me")
    erased = _history_rows(c.analytics, "acme", "erase-me")
    assert erased == kept and erased["telemetry_spans"] == 4 and erased["telemetry_events"] == 2
    assert erased["telemetry_llm_calls"] >= 1 and erased["telemetry_tool_calls"] >= 1
    assert client.get("/api/v1/sessions/erase-me", headers=h).status_code == 200

    assert client.delete(f"{API}/sessions/erase-me", headers=h).status_code == 204
    c.bus.drain()
    assert set(_history_rows(c.analytics, "acme", "erase-me").values()) == {0}
    assert _history_rows(c.analytics, "acme", "keep-me") == kept
    assert client.get("/api/v1/sessions/erase-me", headers=h).status_code == 404
    assert client.get("/api/v1/sessions/keep-me", headers=h).status_code == 200
    found = client.get("/api/v1/search?q=hi", headers=h).get_json()["results"]
    assert {r["session_id"] for r in found} == {"keep-me"}

    # A late redelivery of the messages stored before the erasure writes nothing of the erased session.
    assert [m for m in delivered if b'"signal":"erasure"' not in m]
    export_payloads(c.analytics, c.store, [m for m in delivered if b'"signal":"erasure"' not in m])
    assert set(_history_rows(c.analytics, "acme", "erase-me").values()) == {0}
    assert _history_rows(c.analytics, "acme", "keep-me") == kept
    assert client.get("/api/v1/sessions/erase-me", headers=h).status_code == 404
