"""The insights routes answered from the analytics history (OBSERVATORY_INSIGHTS=analytics) equal the Store's."""

from __future__ import annotations

from typing import Any

import pytest

from functions import _bootstrap
from tests.payloads import log_request, stable, trace_request

PATHS = ["/api/observatory/metrics/summary", "/api/observatory/metrics/providers", "/api/observatory/heatmap",
         *(f"/api/observatory/breakdowns/{d}" for d in ("model", "provider", "source_type", "workspace")),
         "/api/observatory/breakdowns/model?source_type=claude_code&tz=Asia/Tokyo"]
def test_the_insights_from_analytics_equal_the_stores(client: Any, monkeypatch: pytest.MonkeyPatch,
                                                       analytics_dsn: str) -> None:
    monkeypatch.setenv("OBSERVATORY_CLICKHOUSE_URL", analytics_dsn)
    _bootstrap.reset()
    pb = {"Content-Type": "application/x-protobuf"}
    for n in range(3):
        session = f"insights-analytics-{n}"
        trace = trace_request(3, service="claude-code", attrs={"session.id": session,
                                                              "gen_ai.request.model": "claude-haiku-4-5"})
        assert client.post("/v1/traces", data=trace.SerializeToString(), headers=pb).status_code == 200
        logs = log_request([
            {"event.name": "api_request", "session.id": session, "model": "claude-sonnet-4-5", "input_tokens": 100 * n,
             "output_tokens": 20, "cost_usd": 0.01 * n, "request_id": f"req-ia-{n}"},
            {"event.name": "tool_result", "session.id": session, "tool_name": "Bash", "tool_use_id": f"toolu_ia_{n}",
             "success": "false" if n == 1 else "true"},
        ])
        assert client.post("/v1/logs", data=logs.SerializeToString(), headers=pb).status_code == 200
    _bootstrap.container().bus.drain()  # aggregate (rollups, exported too) and export
    from_store = {p: client.get(p).get_json() for p in PATHS}
    summary = from_store["/api/observatory/metrics/summary"]
    assert summary["total_spans"] == 9 and summary["total_tokens_out"] >= 60

    monkeypatch.setenv("OBSERVATORY_INSIGHTS", "analytics")
    _bootstrap.reset()
    assert _bootstrap.container().settings.insights_on_analytics
    for p in PATHS:
        got = client.get(p)
        assert got.status_code == 200, (p, got.get_json())
        assert stable(got.get_json()) == stable(from_store[p]), p


def test_spans_written_through_the_api_reach_the_analytics_history(client: Any, monkeypatch: pytest.MonkeyPatch,
                                                                    analytics_dsn: str) -> None:
    from datetime import UTC, datetime, timedelta

    monkeypatch.setenv("OBSERVATORY_CLICKHOUSE_URL", analytics_dsn)
    _bootstrap.reset()
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)

    def body(span_id: str, start: datetime, **extra: Any) -> dict[str, Any]:
        return {"id": span_id, "trace_id": "api-trace-1", "name": "agent.step", "kind": "client", "status": "ok",
                "start_time": start.isoformat(), "end_time": (start + timedelta(seconds=3)).isoformat(),
                "session_id": "api-session", "workspace": "/src/api-app", "tokens_in": 100, "tokens_out": 20,
                "model": "claude-haiku-4-5", "resource_attributes": {"service.name": "coordinator"}, **extra}

    api = "/api/observatory/spans"
    for n in range(3):
        assert client.post(api, json=body(f"api-span-{n}", now + timedelta(minutes=n))).status_code == 201
    assert client.put(f"{api}/api-span-1", json={"start_time": (now - timedelta(days=1)).isoformat(),
                                                 "status": "error"}).status_code == 200  # moves its start
    assert client.delete(f"{api}/api-span-2").status_code == 204
    assert client.post(f"{api}/api-span-0/events", json={"name": "checked"}).status_code in (200, 201)
    c = _bootstrap.container()
    c.bus.drain()
    conn = c.analytics.history._conn
    rows = conn.client.query(
        f"SELECT span_id, status, start_ns, events FROM `{conn.database}`.telemetry_spans FINAL "
        "WHERE org_id = 'default' ORDER BY span_id").result_rows
    stored = {s.span_id: s for s in c.store.span_records("default", [("api-trace-1", f"api-span-{n}")
                                                                     for n in range(3)])}
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (k, stored[k].status, stored[k].start_ns) for k in ("api-span-0", "api-span-1")]
    assert "checked" in (rows[0][3] or "")
    paths = [*PATHS, "/api/observatory/metrics/summary?start_date="
             f"{(now - timedelta(days=2)).date().isoformat()}"]
    from_store = {p: client.get(p).get_json() for p in paths}
    assert from_store["/api/observatory/metrics/summary"]["total_spans"] == 2
    monkeypatch.setenv("OBSERVATORY_INSIGHTS", "analytics")
    _bootstrap.reset()
    for p in paths:
        assert stable(client.get(p).get_json()) == stable(from_store[p]), p
