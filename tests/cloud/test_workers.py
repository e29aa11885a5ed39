"""The CloudEvent workers as Pub/Sub pushes them: recompute, redelivery, dead letters, transient errors."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from cloudevents.http import CloudEvent

from core import events
from core.errors import StorageUnavailable
from core.ports.bus import TELEMETRY_INGESTED
from core.workers import (
    MESSAGE_ID_ATTRIBUTE,
    MESSAGE_PUBLISHED,
    REASON_ATTRIBUTE,
    WORKER_ATTRIBUTE,
    PermanentError,
    decode_cloud_event,
    topic_from_source,
)
from emulator import pubsub_setup
from functions import _bootstrap, _workers
from tests.cloud.conftest import pull
from tests.payloads import trace_request

ATTRS = {"session.id": "s1", "gen_ai.request.model": "claude-haiku-4-5",
         "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5}
DLQ = pubsub_setup.inspect_subscription_name(TELEMETRY_INGESTED)


@pytest.fixture
def cloud(pubsub_project: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("OBSERVATORY_BUS", "pubsub")
    monkeypatch.setenv("OBSERVATORY_BUS_DRAINER", "external")  # no outbox thread: only the worker aggregates
    yield pubsub_project
    _workers.reset()


def app_client(target: str) -> Any:
    import functions_framework

    from functions import aggregate, export_clickhouse, retention

    module = {"aggregate": aggregate, "export_clickhouse": export_clickhouse, "retention": retention}[target]
    return functions_framework.create_app(target=target, source=module.__file__).test_client()


def push_body(project: str, data: bytes, message_id: str = "m-1", attributes: dict[str, str] | None = None,
              worker: str = "aggregate") -> dict[str, Any]:
    """Exactly what a Pub/Sub push subscription POSTs to its endpoint."""
    return {"message": {"data": base64.b64encode(data).decode(), "attributes": attributes or {},
                        "messageId": message_id, "message_id": message_id,
                        "publishTime": "2026-03-01T12:00:00.000Z", "publish_time": "2026-03-01T12:00:00.000Z"},
            "subscription": f"projects/{project}/subscriptions/{pubsub_setup.push_subscription_name(worker)}"}


def push(client: Any, project: str, body: dict[str, Any]) -> Any:
    return client.post(pubsub_setup.push_endpoint("", project, TELEMETRY_INGESTED), json=body)


def ingested_payloads(n_spans: int = 2) -> list[bytes]:
    """Ingest a batch and return what ingest relayed to `telemetry-ingested` (pulled back from the topic)."""
    from google.cloud import pubsub_v1

    project = _bootstrap.container().settings.gcp_project
    subscriber = pubsub_v1.SubscriberClient()
    capture = f"capture-{n_spans}"
    subscriber.create_subscription(request={
        "name": subscriber.subscription_path(project, capture),
        "topic": pubsub_v1.PublisherClient.topic_path(project, TELEMETRY_INGESTED)})
    _bootstrap.container().ingest.ingest("acme", "traces", trace_request(n_spans, attrs=ATTRS), f"d-{n_spans}")
    return [m.data for m in pull(project, capture, 1)]


def metrics_events() -> list[Any]:
    return _bootstrap.container().store.list_events("acme", 0, 1000, types=[events.METRICS_UPDATED])


def test_a_pushed_batch_recomputes_aggregates_and_redelivery_changes_nothing(cloud: str) -> None:
    (payload,) = ingested_payloads()
    store = _bootstrap.container().store
    before = store.get_session("acme", "s1")
    assert before is not None and before.summary is None and metrics_events() == []
    client = app_client("aggregate")
    assert push(client, cloud, push_body(cloud, payload)).status_code == 200
    after = store.get_session("acme", "s1")
    assert after is not None and after.summary is not None
    assert after.summary["span_count"] == 2
    assert [e.subject_id for e in metrics_events()] == ["s1"]
    for message_id in ("m-1", "m-2"):  # redelivery, and a duplicate delivery under another id
        assert push(client, cloud, push_body(cloud, payload, message_id)).status_code == 200
    again = store.get_session("acme", "s1")
    assert again is not None and again.summary == after.summary
    assert len(metrics_events()) == 1
    assert pull(cloud, DLQ, 1, timeout_s=0.5) == []


@pytest.mark.parametrize(("data", "reason"), [
    (b"not json {", "not JSON"),
    (b'{"session_ids": ["s1"]}', "no org_id"),
    (b'["acme"]', "not a JSON object"),
    (b'{"org_id": "acme", "session_ids": "s1"}', "session_ids"),
])
def test_a_poison_message_is_dead_lettered_and_acknowledged(cloud: str, data: bytes, reason: str) -> None:
    response = push(app_client("aggregate"), cloud, push_body(cloud, data, "poison-1", {"signal": "traces"}))
    assert response.status_code == 200  # acknowledged: Pub/Sub stops redelivering it
    (dead,) = pull(cloud, DLQ, 1)
    assert dead.data == data
    assert reason in dead.attributes[REASON_ATTRIBUTE]
    assert dead.attributes[WORKER_ATTRIBUTE] == "aggregate"
    assert dead.attributes[MESSAGE_ID_ATTRIBUTE] == "poison-1"
    assert dead.attributes["signal"] == "traces"


def test_undecodable_message_data_is_dead_lettered(cloud: str) -> None:
    body = push_body(cloud, b"")
    body["message"]["data"] = "@@not base64@@"
    assert push(app_client("aggregate"), cloud, body).status_code == 200
    (dead,) = pull(cloud, DLQ, 1)
    assert "base64" in dead.attributes[REASON_ATTRIBUTE] and dead.data == b"@@not base64@@"


def test_a_transient_store_error_raises_so_pubsub_redelivers(cloud: str, monkeypatch: pytest.MonkeyPatch) -> None:
    (payload,) = ingested_payloads()
    store = _bootstrap.container().store

    def unavailable(*args: Any, **kwargs: Any) -> None:
        raise StorageUnavailable("database is locked")

    monkeypatch.setattr(store, "save_session_rollups", unavailable)
    source = f"//pubsub.googleapis.com/projects/{cloud}/topics/{TELEMETRY_INGESTED}"
    event = CloudEvent({"type": MESSAGE_PUBLISHED, "source": source, "id": "m-9"}, push_body(cloud, payload, "m-9"))
    from functions.aggregate import aggregate

    with pytest.raises(StorageUnavailable):
        aggregate(event)
    assert push(app_client("aggregate"), cloud, push_body(cloud, payload)).status_code == 500  # a nack
    assert pull(cloud, DLQ, 1, timeout_s=0.5) == []
    monkeypatch.undo()


def test_export_without_analytics_says_so_once_per_message(cloud: str, caplog: pytest.LogCaptureFixture) -> None:
    payload = json.dumps({"org_id": "acme", "counts": {"spans": 3, "events": 1}}).encode()
    with caplog.at_level(logging.WARNING):
        assert push(app_client("export_clickhouse"), cloud,
                    push_body(cloud, payload, worker="export_clickhouse")).status_code == 200
    lines = [r.getMessage() for r in caplog.records if "analytics not configured" in r.getMessage()]
    assert lines == ["analytics not configured: dropped export of 3 spans, 1 events for org acme "
                     "(set OBSERVATORY_CLICKHOUSE_URL)"]


def test_decoding_rejects_other_events_and_reads_the_topic_from_the_source() -> None:
    with pytest.raises(PermanentError):
        decode_cloud_event(CloudEvent({"type": "google.cloud.storage.object.v1.finalized", "source": "//x"}, {}))
    with pytest.raises(PermanentError):
        decode_cloud_event(CloudEvent({"type": MESSAGE_PUBLISHED, "source": "//x"}, {"nope": 1}))
    message = decode_cloud_event(CloudEvent(
        {"type": MESSAGE_PUBLISHED, "source": "//pubsub.googleapis.com/projects/p/topics/t", "id": "e-1"},
        {"message": {"data": base64.b64encode(b"hi").decode(), "attributes": {"a": "b"}}}))
    assert (message.data, message.attributes, message.topic, message.message_id) == (b"hi", {"a": "b"}, "t", "e-1")
    assert topic_from_source("//pubsub.googleapis.com/projects/p/topics/t") == "t"
    assert topic_from_source("//pubsub.googleapis.com/") == ""


@pytest.fixture
def served_aggregate(cloud: str) -> Iterator[str]:
    """The aggregate function served over HTTP on a free port (the emulator pushes to it)."""
    import threading

    from werkzeug.serving import make_server

    from emulator.gcloud import free_port

    port = free_port()
    server = make_server("127.0.0.1", port, app_client("aggregate").application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def test_the_emulator_pushes_to_the_worker_and_dead_letters_poison(cloud: str, served_aggregate: str) -> None:
    import time

    from core.adapters.pubsub_bus import PubsubBus

    pubsub_setup.setup(cloud, {"aggregate": served_aggregate})
    (payload,) = ingested_payloads()
    bus = PubsubBus(cloud)
    try:
        bus.publish(TELEMETRY_INGESTED, payload)
        bus.publish(TELEMETRY_INGESTED, b"poison")
    finally:
        bus.close()
    store = _bootstrap.container().store
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        session = store.get_session("acme", "s1")
        if session is not None and session.summary is not None:
            break
        time.sleep(0.05)
    session = store.get_session("acme", "s1")
    assert session is not None and session.summary is not None and session.summary["span_count"] == 2
    (dead,) = pull(cloud, DLQ, 1, timeout_s=15)
    assert dead.data == b"poison" and "not JSON" in dead.attributes[REASON_ATTRIBUTE]


def test_the_maintenance_message_runs_retention(cloud: str) -> None:
    from core.models import SpanQuery
    from core.workers import MAINTENANCE

    c = _bootstrap.container()
    old = trace_request(2, attrs=ATTRS)
    for span in old.resource_spans[0].scope_spans[0].spans:  # 40 days ago: past the 30-day span TTL
        span.start_time_unix_nano -= 40 * 86_400 * 10**9
        span.end_time_unix_nano -= 40 * 86_400 * 10**9
    c.ingest.ingest("acme", "traces", old, "old")
    c.ingest.ingest("acme", "traces", trace_request(3, attrs=ATTRS), "fresh")
    assert len(c.store.list_spans("acme", SpanQuery())) == 5
    body = push_body(cloud, b'{"job": "retention"}', "tick-1", worker="retention")
    response = app_client("retention").post(pubsub_setup.push_endpoint("", cloud, MAINTENANCE), json=body)
    assert response.status_code == 200
    assert len(c.store.list_spans("acme", SpanQuery())) == 3  # exactly the expired ones went
