"""End to end on `observatory serve`: embedded ClickHouse lives in the worker process, the HTTP processes forward
the analytics routes to it; OTLP events become agent sessions and insights, a sync is searchable."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

from tests.conftest import Server
from tests.payloads import log_request

SESSION = "e2e-analytics-session"


def call(server: Server, path: str, body: Any = None, content_type: str = "application/json") -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(server.url + path, data=data, headers={"Content-Type": content_type},
                                 method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw.strip().startswith((b"{", b"[")) else raw
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def eventually(check: Any, timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def test_otlp_events_and_a_sync_reach_analytics_through_the_worker_process(server: Server) -> None:
    logs = log_request([
        {"event.name": "claude_code.user_prompt", "session.id": SESSION, "prompt": "explain the flaky test"},
        {"event.name": "claude_code.api_request", "session.id": SESSION, "model": "claude-sonnet-4-5",
         "input_tokens": 1000, "output_tokens": 200, "cost_usd": 0.02, "request_id": "req_e2e_analytics"},
    ])
    status, _ = call(server, "/v1/logs", logs.SerializeToString(), "application/x-protobuf")
    assert status == 200

    def session() -> Any:
        code, body = call(server, f"/api/v1/sessions/{SESSION}")
        return body if code == 200 else None

    assert eventually(session), "the export worker never wrote the session"
    _, messages = call(server, f"/api/v1/sessions/{SESSION}/messages")
    assert [m["content"] for m in messages] == ["explain the flaky test"]

    def model_row() -> Any:
        _, breakdown = call(server, "/api/observatory/breakdowns/model")
        return [g for g in breakdown["items"] if g["id"] == "claude-sonnet-4-5"]

    rows = eventually(model_row)
    assert rows and rows[0]["calls"] == 1 and rows[0]["tokens_out"] == 200

    sync = {"sessions": [{"id": "synced-1", "started_at": "2026-11-20T10:00:00Z", "user_message_count": 1}],
            "messages": [{"session_id": "synced-1", "ordinal": 0, "role": "user", "content": "Wie spät ist es?"}]}
    assert call(server, "/api/v1/sync", sync)[0] == 200
    _, found = call(server, "/api/v1/search?q=SP%C3%84T")
    assert [r["session_id"] for r in found["results"]] == ["synced-1"]
