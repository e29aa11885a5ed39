"""The HTTP contract of the insights function: metrics summary, provider comparison, breakdowns and heatmap."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from tests.payloads import kv, trace_request

API = "/api/observatory"
PROTOBUF = {"Content-Type": "application/x-protobuf"}


def api_requests(client: Any, calls: list[dict[str, Any]], service: str = "claude-code",
                 headers: dict[str, str] | None = None) -> None:
    """Claude Code api_request events; each dict holds the record's attributes plus its time as ``t`` (ns)."""
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.append(kv("service.name", service))
    sl = rl.scope_logs.add()
    for i, c in enumerate(calls):
        attrs = {"event.name": "api_request", "model": "claude-sonnet-4-5", "request_id": f"req-{time.time_ns()}-{i}",
                 "input_tokens": "100", "output_tokens": "20", "cost_usd": "0.05", "duration_ms": "800"}
        attrs.update({k: v for k, v in c.items() if k != "t"})
        rec = LogRecord(time_unix_nano=c.get("t") or time.time_ns() - 60 * 10**9)
        for k, v in attrs.items():
            rec.attributes.append(kv(k, v))
        sl.log_records.append(rec)
    r = client.post("/v1/logs", data=req.SerializeToString(), headers={**PROTOBUF, **(headers or {})})
    assert r.status_code == 200, r.data


def get(client: Any, path: str, **headers: str) -> Any:
    return client.get(f"{API}{path}", headers=headers)


def ok(r: Any) -> dict[str, Any]:
    assert r.status_code == 200, r.get_json()
    body: dict[str, Any] = r.get_json()
    return body


def error(r: Any, status: int = 400) -> str:
    assert r.status_code == status, r.get_json()
    message: str = r.get_json()["error"]
    return message


def test_summary_of_an_empty_org_has_every_field(client: Any) -> None:
    body = ok(get(client, "/metrics/summary"))
    for name in ("total_workspaces", "total_tasks", "total_spans", "total_agents", "total_tokens_in",
                 "total_tokens_out", "total_cost_usd", "success_rate", "total_cache_read_tokens",
                 "total_cache_creation_tokens", "cache_savings_usd", "lines_added", "lines_removed", "commit_count",
                 "pull_request_count", "active_time_ms", "turn_count", "tool_calls", "error_count"):
        assert body[name] == 0, name
    start = datetime.fromisoformat(body["start_date"])
    end = datetime.fromisoformat(body["end_date"])
    assert end - start == timedelta(days=30) and body["tz"] == "UTC"


def test_summary_counts_llm_calls_tokens_and_cost(client: Any) -> None:
    api_requests(client, [{"session.id": "s1"}, {"session.id": "s1", "cache_read_tokens": "500"},
                          {"session.id": "s2", "model": "claude-haiku-4-5"}])
    ingest = trace_request(4, service="claude-code", attrs={"session.id": "s1"})
    assert client.post("/v1/traces", data=ingest.SerializeToString(), headers=PROTOBUF).status_code == 200
    body = ok(get(client, "/metrics/summary"))
    assert (body["turn_count"], body["total_tokens_in"], body["total_tokens_out"]) == (3, 300, 60)
    assert (body["total_cache_read_tokens"], body["total_spans"], body["total_sessions"]) == (500, 4, 2)
    assert body["total_cost_usd"] == pytest.approx(0.15)
    assert body["success_rate"] == 1.0
    only = ok(get(client, "/metrics/summary?model=claude-haiku-4-5"))
    assert (only["turn_count"], only["total_sessions"]) == (1, 1)
    assert ok(get(client, "/metrics/summary?source_type=gemini_cli"))["turn_count"] == 0
    assert ok(get(client, "/metrics/summary?model=&source_type="))["turn_count"] == 3  # empty = no filter


def test_provider_comparison_and_breakdowns(client: Any) -> None:
    api_requests(client, [{"session.id": "s1"}, {"session.id": "s1", "model": "claude-haiku-4-5", "cost_usd": "0.15"}])
    api_requests(client, [{"event.name": "gemini_cli.api_response", "session.id": "g1", "model": "gemini-2.5-pro",
                           "input_token_count": "50", "output_token_count": "5", "status_code": "500"}],
                 service="gemini-cli")
    providers = ok(get(client, "/metrics/providers"))
    by_name = {p["provider"]: p for p in providers["providers"]}
    assert providers["count"] == 2 and set(by_name) == {"claude", "gemini"}
    assert (by_name["claude"]["total_executions"], by_name["claude"]["success_rate"]) == (2, 1.0)
    assert by_name["claude"]["total_cost"] == pytest.approx(0.2)
    assert by_name["claude"]["avg_duration_ms"] == 800
    assert (by_name["gemini"]["failed_executions"], by_name["gemini"]["success_rate"]) == (1, 0.0)

    models = ok(get(client, "/breakdowns/model"))
    assert models["dimension"] == "model" and models["count"] == 3
    assert models["items"][0]["id"] == "claude-haiku-4-5"  # the most expensive first
    assert sum(i["cost_share"] for i in models["items"]) == pytest.approx(1.0, abs=1e-3)
    sources = {i["id"]: i for i in ok(get(client, "/breakdowns/source_type"))["items"]}
    assert set(sources) == {"claude_code", "gemini_cli"}
    assert (sources["claude_code"]["label"], sources["claude_code"]["calls"]) == ("Claude Code", 2)
    assert sources["claude_code"]["session_count"] == 1
    assert [i["id"] for i in ok(get(client, "/breakdowns/workspace"))["items"]] == ["unknown"]
    assert ok(get(client, "/breakdowns/provider?provider=GEMINI"))["count"] == 1  # provider names are lower case


def test_workspace_breakdown_uses_catalog_workspaces(client: Any) -> None:
    r = client.post(f"{API}/workspaces", data=json.dumps({"name": "Observatory", "path": "/src/obs"}),
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 201
    ws_id = r.get_json()["id"]
    req = trace_request(2, service="claude-code", attrs={"session.id": "w1"})
    req.resource_spans[0].resource.attributes.append(kv("process.cwd", "/src/obs/worktrees/x"))
    assert client.post("/v1/traces", data=req.SerializeToString(), headers=PROTOBUF).status_code == 200
    [item] = ok(get(client, "/breakdowns/workspace"))["items"]
    assert (item["id"], item["label"], item["span_count"]) == (ws_id, "Observatory", 2)
    assert ok(get(client, f"/metrics/summary?workspace={ws_id}"))["total_spans"] == 2
    assert ok(get(client, "/metrics/summary?workspace=unknown"))["total_spans"] == 0


def test_heatmap_days_in_the_requested_zone(client: Any) -> None:
    base = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)
    at = [base - timedelta(minutes=30), base + timedelta(minutes=30)]  # both sides of a UTC midnight
    api_requests(client, [{"session.id": "h1", "t": int(t.timestamp()) * 10**9} for t in at])
    first, last = (base - timedelta(days=1)).date().isoformat(), base.date().isoformat()
    utc = ok(get(client, f"/heatmap?start_date={first}&end_date={last}"))
    assert [(d["date"], d["calls"]) for d in utc["days"]] == [(first, 1), (last, 1)]
    assert utc["days"][0]["session_count"] == 1 and utc["days"][0]["cost"] == pytest.approx(0.05)
    tokyo = ok(get(client, f"/heatmap?start_date={first}&end_date={last}&tz=Asia/Tokyo"))
    assert [(d["date"], d["calls"]) for d in tokyo["days"]] == [(first, 0), (last, 2)]
    default = ok(get(client, "/heatmap"))
    assert default["count"] == 31 and sum(d["calls"] for d in default["days"]) == 2


@pytest.mark.parametrize(("path", "named"), [
    ("/breakdowns/team", "dimension"),
    ("/metrics/summary?tz=Mars/Olympus", "tz"),
    ("/metrics/providers?start_date=yesterday", "start_date"),
    ("/heatmap?end_date=2024-13-01", "end_date"),
    ("/breakdowns/model?start_date=2024-05-10&end_date=2024-05-01", "end_date"),
    ("/metrics/summary?source_type=robot", "source_type"),
    ("/heatmap?start_date=2000-01-01", "start_date"),
    ("/metrics/summary?start_date=1800-01-01", "start_date"),
])
def test_bad_parameters_are_named(client: Any, path: str, named: str) -> None:
    assert named in error(get(client, path))


def test_rfc3339_bounds_and_inclusive_end_dates(client: Any) -> None:
    t = datetime(2024, 3, 5, 10, 0, tzinfo=UTC)
    api_requests(client, [{"session.id": "d1", "t": int(t.timestamp()) * 10**9}])
    assert ok(get(client, "/metrics/summary?start_date=2024-03-05&end_date=2024-03-05"))["turn_count"] == 1
    assert ok(get(client, "/metrics/summary?start_date=2024-03-05T10:00:00Z"))["turn_count"] == 1
    assert ok(get(client, "/metrics/summary?start_date=2024-03-05T10:00:01Z"))["turn_count"] == 0
    assert ok(get(client, "/metrics/summary?end_date=2024-03-05T11:00:00%2B01:00"))["turn_count"] == 0  # exclusive
    body = ok(get(client, "/metrics/summary?start_date=2024-03-01&end_date=2024-03-31&tz=Europe/Paris"))
    assert (body["start_date"], body["end_date"]) == ("2024-03-01T00:00:00+01:00", "2024-04-01T00:00:00+02:00")


def test_orgs_see_only_their_own_aggregates(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from functions import _bootstrap

    monkeypatch.setenv("OBSERVATORY_API_KEYS", json.dumps({"keys": [
        {"key": "acme-key", "org": "acme", "scopes": ["ingest", "read"]},
        {"key": "globex-key", "org": "globex", "scopes": ["read"]},
    ]}))
    _bootstrap.reset()
    api_requests(client, [{"session.id": "s1"}], headers={"Authorization": "Bearer acme-key"})
    assert ok(get(client, "/metrics/summary", Authorization="Bearer acme-key"))["turn_count"] == 1
    assert ok(get(client, "/metrics/summary", Authorization="Bearer globex-key"))["turn_count"] == 0
    assert ok(get(client, "/breakdowns/model", Authorization="Bearer globex-key"))["items"] == []
    assert get(client, "/heatmap").status_code == 401
