"""The JSON API request cycle every entry point shares: scopes, limits, parameter errors, 404/405, CORS."""

from __future__ import annotations

import json
from typing import Any

import pytest

API = "/api/observatory"


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBSERVATORY_API_KEYS", json.dumps({"keys": [
        {"key": "reader", "org": "acme", "scopes": ["read"]},
        {"key": "writer", "org": "acme", "scopes": ["read", "write"]},
    ]}))


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_reads_need_a_key_and_the_read_scope(client: Any, keys: None) -> None:
    assert client.get(f"{API}/sessions").status_code == 401
    assert client.get(f"{API}/sessions", headers=bearer("nope")).status_code == 401
    r = client.get(f"{API}/sessions", headers=bearer("reader"))
    assert r.status_code == 200 and r.get_json()["sessions"] == []


def test_writes_need_the_write_scope(client: Any, keys: None) -> None:
    r = client.delete(f"{API}/sessions/s-1", headers=bearer("reader"))
    assert r.status_code == 403
    assert "write" in r.get_json()["error"]
    assert client.delete(f"{API}/sessions/s-1", headers=bearer("writer")).status_code == 404


def test_limit_defaults_to_50_and_is_capped_at_1000(client: Any) -> None:
    assert client.get(f"{API}/traces").get_json()["limit"] == 50
    assert client.get(f"{API}/traces?limit=5000").get_json()["limit"] == 1000
    assert client.get(f"{API}/telemetry/metrics").get_json()["limit"] == 100  # the seed's default there


@pytest.mark.parametrize(("query", "name"), [
    ("limit=-1", "limit"), ("limit=0", "limit"), ("limit=ten", "limit"), ("offset=-5", "offset"),
    ("start_time=yesterday", "start_time"), ("end_time=2026-13-45", "end_time"),
    ("start_time=2263-01-01T00:00:00Z", "start_time"), ("end_time=1969-12-31T23:59:59Z", "end_time"),
])
def test_bad_parameters_are_named(client: Any, query: str, name: str) -> None:
    r = client.get(f"{API}/traces?{query}")
    assert r.status_code == 400
    assert f"'{name}'" in r.get_json()["error"]


def test_unknown_paths_and_methods(client: Any) -> None:
    r = client.get(f"{API}/no-such-thing")
    assert r.status_code == 404 and "error" in r.get_json()
    r = client.put(f"{API}/traces")
    assert r.status_code == 405
    assert "GET" in r.get_json()["error"]


def test_cors_is_closed_by_default(client: Any) -> None:
    r = client.get(f"{API}/sessions", headers={"Origin": "https://evil.example"})
    assert r.status_code == 200
    assert "Access-Control-Allow-Origin" not in r.headers
    assert client.options(f"{API}/sessions", headers={"Origin": "https://evil.example"}).status_code == 403


def test_cors_allows_configured_origins_only(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBSERVATORY_CORS_ORIGINS", "https://ui.example, https://other.example")
    from functions import _bootstrap

    _bootstrap.reset()
    pre = client.options(f"{API}/sessions", headers={"Origin": "https://ui.example",
                                                      "Access-Control-Request-Method": "GET"})
    assert pre.status_code == 204
    assert pre.headers["Access-Control-Allow-Origin"] == "https://ui.example"
    assert "Authorization" in pre.headers["Access-Control-Allow-Headers"]
    r = client.get(f"{API}/sessions", headers={"Origin": "https://ui.example"})
    assert r.headers["Access-Control-Allow-Origin"] == "https://ui.example"
    missing = client.get(f"{API}/sessions/none", headers={"Origin": "https://ui.example"})
    assert missing.status_code == 404 and missing.headers["Access-Control-Allow-Origin"] == "https://ui.example"
    other = client.get(f"{API}/sessions", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


@pytest.mark.parametrize("path", [
    "/spans?start_after=2263-01-01T00:00:00Z", "/telemetry/metrics?until=2263-01-01T00:00:00Z",
    "/hierarchy/spans?start_before=2263-01-01T00:00:00Z",
])
def test_times_beyond_what_the_store_can_hold_are_bad_parameters(client: Any, path: str) -> None:
    r = client.get(f"{API}{path}")
    assert r.status_code == 400
    assert "2262" in r.get_json()["error"]
