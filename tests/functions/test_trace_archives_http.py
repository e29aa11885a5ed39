"""Trace reads merged with remote archives over HTTP: sources, local wins, get by id from a remote, the cache,
degraded answers with a warning, and an archive seen by its own org only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.payloads import trace_request
from tests.trace_archive_fakes import FakeCloudTrace, FakeJaeger, fakes, sample_trace

API = "/api/observatory"
A, B = {"Authorization": "Bearer key-a"}, {"Authorization": "Bearer key-b"}
NOW = datetime.now(UTC)
SHARED = "5a" * 16  # in the store and in Jaeger: the local copy wins
JAEGER_ONLY, GCP_ONLY = "1b" * 16, "2c" * 16


@pytest.fixture
def remotes(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeJaeger, FakeCloudTrace]]:
    jaeger_traces = [sample_trace(SHARED, NOW - timedelta(minutes=30)),
                     sample_trace(JAEGER_ONLY, NOW - timedelta(minutes=10), session="s-j")]
    with fakes(jaeger_traces, [sample_trace(GCP_ONLY, NOW - timedelta(minutes=20))]) as (jaeger, gcp):
        monkeypatch.setenv("OBSERVATORY_API_KEYS", json.dumps({"keys": [
            {"key": "key-a", "org": "org-a", "scopes": ["ingest", "read"]},
            {"key": "key-b", "org": "org-b", "scopes": ["ingest", "read"]},
        ]}))
        monkeypatch.setenv("OBSERVATORY_TRACE_ARCHIVES", json.dumps([
            {"kind": "jaeger", "org": "org-a", "name": "jaeger-a", "url": jaeger.url, "service": "claude-code",
             "timeout_s": 2},
            {"kind": "gcp", "org": "org-a", "name": "gcp-a", "project": "proj-a", "endpoint": gcp.endpoint,
             "insecure": True, "timeout_s": 2},
        ]))
        yield jaeger, gcp


def ingest(client: Any, headers: dict[str, str], trace_id: str, n: int = 3) -> None:
    body = trace_request(n, service="claude-code", trace_id=bytes.fromhex(trace_id)).SerializeToString()
    r = client.post("/v1/traces", data=body, headers={"Content-Type": "application/x-protobuf", **headers})
    assert r.status_code == 200


def test_list_merges_local_and_remote_traces_with_sources(client: Any, remotes: Any) -> None:
    local_only = "3d" * 16
    ingest(client, A, SHARED, n=3)
    ingest(client, A, local_only)
    body = client.get(f"{API}/traces", headers=A).get_json()
    sources = {t["trace_id"]: t["source"] for t in body["traces"]}
    assert sources == {local_only: "local", SHARED: "local", JAEGER_ONLY: "jaeger", GCP_ONLY: "gcp"}
    shared = next(t for t in body["traces"] if t["trace_id"] == SHARED)
    assert shared["span_count"] == 3  # the store's copy (3 spans), not Jaeger's (2)
    starts = [t["start_time"] for t in body["traces"]]
    assert starts == sorted(starts, reverse=True)
    assert body["count"] == 4 and body["warnings"] == []
    # Paging cuts the merged order: page 2 of size 2 is the two oldest.
    page = client.get(f"{API}/traces?limit=2&offset=2", headers=A).get_json()
    assert [t["trace_id"] for t in page["traces"]] == [t["trace_id"] for t in body["traces"][2:]]
    # A filter the remote understands is applied to its traces too.
    by_session = client.get(f"{API}/traces?session_id=s-j", headers=A).get_json()
    assert [t["trace_id"] for t in by_session["traces"]] == [JAEGER_ONLY]


def test_get_trace_from_each_remote_and_local_first(client: Any, remotes: Any) -> None:
    ingest(client, A, SHARED, n=3)
    r = client.get(f"{API}/traces/{JAEGER_ONLY}", headers=A)
    assert r.status_code == 200
    detail = r.get_json()
    assert (detail["source"], detail["span_count"], detail["root_span"]["name"]) == (
        "jaeger", 2, "claude_code.interaction")
    assert detail["spans"][1]["parent_span_id"] == detail["root_span"]["id"]
    gcp = client.get(f"{API}/traces/{GCP_ONLY.upper()}", headers=A).get_json()
    assert (gcp["source"], gcp["trace_id"], gcp["span_count"]) == ("gcp", GCP_ONLY, 2)
    shared = client.get(f"{API}/traces/{SHARED}", headers=A).get_json()
    assert (shared["source"], shared["span_count"]) == ("local", 3)
    assert client.get(f"{API}/traces/{'77' * 16}", headers=A).status_code == 404


def test_remote_answers_are_cached(client: Any, remotes: Any) -> None:
    jaeger, gcp = remotes
    first = client.get(f"{API}/traces", headers=A).get_json()
    hits, requests = len(jaeger.hits), len(gcp.requests)
    assert hits == 1 and requests == 1
    again = client.get(f"{API}/traces", headers=A).get_json()
    assert again["traces"] == first["traces"]
    assert (len(jaeger.hits), len(gcp.requests)) == (hits, requests)  # within 60 s: no remote asked


def test_remote_down_answers_local_with_a_warning(client: Any, remotes: Any) -> None:
    jaeger, _ = remotes
    jaeger.close()
    ingest(client, A, SHARED)
    r = client.get(f"{API}/traces", headers=A)
    assert r.status_code == 200
    body = r.get_json()
    assert {t["trace_id"]: t["source"] for t in body["traces"]} == {SHARED: "local", GCP_ONLY: "gcp"}
    assert len(body["warnings"]) == 1 and "jaeger-a" in body["warnings"][0]
    missing = client.get(f"{API}/traces/{JAEGER_ONLY}", headers=A)
    assert missing.status_code == 404 and "jaeger-a" in missing.get_json()["error"]


def test_another_org_never_sees_the_archives(client: Any, remotes: Any) -> None:
    jaeger, gcp = remotes
    own = "4e" * 16
    ingest(client, B, own)
    body = client.get(f"{API}/traces", headers=B).get_json()
    assert [(t["trace_id"], t["source"]) for t in body["traces"]] == [(own, "local")]
    assert body["warnings"] == []
    for trace_id in (JAEGER_ONLY, GCP_ONLY, SHARED):
        assert client.get(f"{API}/traces/{trace_id}", headers=B).status_code == 404
    assert client.get(f"{API}/traces?trace_id={JAEGER_ONLY}", headers=B).get_json()["traces"] == []
    assert jaeger.hits == [] and gcp.requests == []  # org B's reads never reached org A's remotes


def test_ids_a_remote_cannot_hold_and_deep_pages_stay_local(client: Any, remotes: Any) -> None:
    jaeger, gcp = remotes
    assert client.get(f"{API}/traces/claude-s1", headers=A).status_code == 404
    assert client.get(f"{API}/traces?trace_id=claude-s1", headers=A).get_json()["traces"] == []
    assert jaeger.hits == [] and gcp.requests == []  # not 1-32 hex digits: no remote was asked
    ingest(client, A, SHARED)
    deep = client.get(f"{API}/traces?limit=1000&offset=1", headers=A).get_json()
    assert deep["traces"] == [] and jaeger.hits == [] and gcp.requests == []  # past the merged depth: the store
    by_id = client.get(f"{API}/traces?trace_id={GCP_ONLY}", headers=A).get_json()
    assert [(t["trace_id"], t["source"], t["span_count"]) for t in by_id["traces"]] == [(GCP_ONLY, "gcp", 2)]
