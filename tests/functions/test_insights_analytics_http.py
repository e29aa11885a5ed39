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
