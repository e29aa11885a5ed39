"""GET /api/observatory/ops/status: outbox backlog, aggregate lag, dead letters, rejections, store health."""

from __future__ import annotations

import json
import time
from typing import Any

from core.ops import OpsStatus
from core.records import Batch
from functions._bootstrap import container

URL = "/api/observatory/ops/status"


def test_status_fields_on_an_idle_store(client: Any) -> None:
    r = client.get(URL)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    OpsStatus.model_validate(body)
    assert body["outbox_backlog"] == 0 and body["aggregate_lag_seconds"] == 0.0
    assert body["oldest_undelivered_at"] is None
    assert body["dead_letters"] == 0 and body["rejected"] == {} and body["rejected_total"] == 0
    assert body["store"]["status"] == "ok"
    if body["store"]["backend"] == "sqlite":  # Firestore reports document counts, not a size
        assert body["store"]["size_bytes"] > 0
    else:
        assert body["store"]["backend"] == "firestore"


def test_status_counts_backlog_lag_dead_letters_and_the_callers_rejections(client: Any) -> None:
    store = container().store
    store.enqueue_outbox([("telemetry-ingested", b"x"), ("telemetry-ingested", b"y")])
    [first, _] = store.claim_outbox(10)
    store.dead_letter_outbox([first.id], "permanent: test")
    rejected = Batch("default")
    rejected.reject("missing span id")
    with store.unit_of_work() as uow:
        uow.write(rejected, "r1", [])
    other = Batch("globex")
    other.reject("not ours")
    with store.unit_of_work() as uow:
        uow.write(other, "r2", [])
    time.sleep(0.01)
    body = client.get(URL).get_json()
    assert body["outbox_backlog"] == 1 and body["dead_letters"] == 1
    assert body["aggregate_lag_seconds"] > 0 and body["oldest_undelivered_at"] is not None
    assert body["rejected"] == {"missing span id": 1} and body["rejected_total"] == 1


def test_status_needs_a_key_with_the_read_scope(client: Any, monkeypatch: Any) -> None:
    from functions import _bootstrap

    monkeypatch.setenv("OBSERVATORY_API_KEYS", json.dumps({"keys": [
        {"key": "k-read", "org": "acme", "scopes": ["read"]},
        {"key": "k-ingest", "org": "acme", "scopes": ["ingest"]},
        {"key": "k-globex", "org": "globex", "scopes": ["read"]},
    ]}))
    _bootstrap.reset()
    assert client.get(URL).status_code == 401
    assert client.get(URL, headers={"Authorization": "Bearer k-ingest"}).status_code == 403
    r = client.get(URL, headers={"Authorization": "Bearer k-read"})
    assert r.status_code == 200 and "error" not in r.get_json()
    store = container().store
    rejected = Batch("acme")
    rejected.reject("bad")
    with store.unit_of_work() as uow:
        uow.write(rejected, "r1", [])
    assert client.get(URL, headers={"Authorization": "Bearer k-read"}).get_json()["rejected"] == {"bad": 1}
    assert client.get(URL, headers={"Authorization": "Bearer k-globex"}).get_json()["rejected"] == {}
    assert client.post(URL, headers={"Authorization": "Bearer k-read"}).status_code == 405
