"""With the Pub/Sub bus, ingest relays each stored batch to `telemetry-ingested` before it answers; a publish
that fails answers 503 + Retry-After and keeps the message in the outbox (nothing lost)."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from core.ports.bus import TELEMETRY_INGESTED
from functions import _bootstrap
from tests.cloud.conftest import pull
from tests.payloads import trace_request

PB = {"Content-Type": "application/x-protobuf"}


def _pull_subscription(project: str) -> str:
    from google.cloud import pubsub_v1

    subscriber = pubsub_v1.SubscriberClient()
    name = "relay-test"
    subscriber.create_subscription(request={
        "name": subscriber.subscription_path(project, name),
        "topic": pubsub_v1.PublisherClient.topic_path(project, TELEMETRY_INGESTED)})
    return name


def test_a_stored_batch_is_published_before_the_answer(client: Any, pubsub_project: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBSERVATORY_BUS", "pubsub")
    _bootstrap.reset()
    subscription = _pull_subscription(pubsub_project)
    request = trace_request(3, attrs={"session.id": "relay-s1"})
    assert client.post("/v1/traces", data=request.SerializeToString(), headers=PB).status_code == 200
    (message,) = pull(pubsub_project, subscription, 1)
    payload = json.loads(message.data)
    assert payload["org_id"] == "default" and payload["session_ids"] == ["relay-s1"]
    assert payload["trace_ids"] == [request.resource_spans[0].scope_spans[0].spans[0].trace_id.hex()]
    assert _bootstrap.container().store.outbox_backlog() == 0  # delivered: nothing left to relay


def test_a_failed_publish_answers_503_and_keeps_the_message(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", dead)
    monkeypatch.setenv("OBSERVATORY_BUS", "pubsub")
    monkeypatch.setenv("OBSERVATORY_GCP_PROJECT", "nowhere")
    monkeypatch.setenv("OBSERVATORY_PUBLISH_TIMEOUT_S", "1")
    _bootstrap.reset()
    r = client.post("/v1/traces", data=trace_request(2).SerializeToString(), headers=PB)
    assert r.status_code == 503 and "Retry-After" in r.headers
    store = _bootstrap.container().store
    assert store.outbox_backlog() == 1  # the batch is stored and its message waits for the next relay
    assert client.get("/api/observatory/spans").get_json()["count"] == 2
