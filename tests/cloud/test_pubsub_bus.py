"""The Pub/Sub bus against Google's emulator: round trip, splitting under the cap, failures, the topology."""

from __future__ import annotations

import json

import pytest

from core.adapters.pubsub_bus import PARTS_ATTRIBUTE, PUBSUB_MAX_MESSAGE_BYTES, PubsubBus, split_payload
from core.errors import InvalidPayload, StorageUnavailable
from core.ports.bus import TELEMETRY_INGESTED
from core.workers import MAINTENANCE, dead_letter_topic
from emulator import gcloud, pubsub_setup
from emulator.gcloud import Emulator
from tests.cloud.conftest import project_id, pull

PROBE = "probe"


def _probe(project: str, topic: str = TELEMETRY_INGESTED) -> None:
    from google.cloud import pubsub_v1

    subscriber = pubsub_v1.SubscriberClient()
    with subscriber:
        subscriber.create_subscription(name=subscriber.subscription_path(project, PROBE),
                                       topic=f"projects/{project}/topics/{topic}")


def test_publish_and_pull_round_trip_with_attributes(pubsub_project: str) -> None:
    _probe(pubsub_project)
    bus = PubsubBus(pubsub_project)
    try:
        ids = bus.publish_many(TELEMETRY_INGESTED, [b'{"org_id":"acme","session_ids":["s1"]}'],
                               attributes={"signal": "traces"})
        bus.publish(TELEMETRY_INGESTED, b'{"org_id":"beta"}')
    finally:
        bus.close()
    assert len(ids) == 1 and ids[0]
    got = sorted(pull(pubsub_project, PROBE, 2), key=lambda m: m.data)
    assert [m.data for m in got] == [b'{"org_id":"acme","session_ids":["s1"]}', b'{"org_id":"beta"}']
    assert dict(got[0].attributes) == {"signal": "traces"}
    assert dict(got[1].attributes) == {}


def test_a_batch_over_the_message_cap_is_split_into_self_contained_parts(pubsub_project: str) -> None:
    _probe(pubsub_project)
    trace_ids = [f"{i:032x}" for i in range(330_000)]  # ~11.6 MB of JSON
    payload = json.dumps({"org_id": "acme", "signal": "traces", "trace_ids": trace_ids,
                          "session_ids": ["s1"]}).encode()
    assert len(payload) > PUBSUB_MAX_MESSAGE_BYTES
    bus = PubsubBus(pubsub_project)
    try:
        ids = bus.publish_many(TELEMETRY_INGESTED, [payload])
    finally:
        bus.close()
    assert len(ids) == 2
    got = pull(pubsub_project, PROBE, 2)
    assert len(got) == 2
    parts = [json.loads(m.data) for m in got]
    assert all(len(m.data) < PUBSUB_MAX_MESSAGE_BYTES for m in got)
    assert all(p["org_id"] == "acme" and p["session_ids"] == ["s1"] for p in parts)
    assert sorted(t for p in parts for t in p["trace_ids"]) == trace_ids
    assert {m.attributes[PARTS_ATTRIBUTE] for m in got} == {"2"}


def test_split_keeps_a_fitting_payload_byte_for_byte_and_refuses_what_it_cannot_split() -> None:
    assert split_payload(b'{"a": 1}', 100) == [b'{"a": 1}']
    parts = split_payload(json.dumps({"org_id": "o", "ids": [str(i) for i in range(50)]}).encode(), 100)
    assert len(parts) > 1 and all(len(p) <= 100 for p in parts)
    assert [i for p in parts for i in json.loads(p)["ids"]] == [str(i) for i in range(50)]
    with pytest.raises(InvalidPayload):
        split_payload(b"x" * 101, 100)
    with pytest.raises(InvalidPayload):
        split_payload(json.dumps({"blob": "x" * 200}).encode(), 100)


def test_a_publish_failure_is_storage_unavailable(pubsub_project: str) -> None:
    bus = PubsubBus(pubsub_project)
    try:
        with pytest.raises(StorageUnavailable):
            bus.publish("no-such-topic", b'{"org_id":"acme"}')
    finally:
        bus.close()


def test_an_unreachable_pubsub_is_storage_unavailable_within_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", f"127.0.0.1:{gcloud.free_port()}")
    bus = PubsubBus("nowhere", timeout_s=1.0)
    try:
        with pytest.raises(StorageUnavailable):
            bus.publish(TELEMETRY_INGESTED, b'{"org_id":"acme"}')
    finally:
        bus.close()


def test_setup_creates_the_topology_idempotently(pubsub_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    from google.cloud import pubsub_v1

    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator.address)
    project = project_id()
    urls = {"aggregate": "http://127.0.0.1:1", "export_clickhouse": "http://127.0.0.1:2"}
    pubsub_setup.setup(project, urls)
    topology = pubsub_setup.setup(project, {**urls, "aggregate": "http://127.0.0.1:3"})  # a restarted worker
    assert set(topology.topics) == {TELEMETRY_INGESTED, MAINTENANCE, dead_letter_topic(TELEMETRY_INGESTED),
                                    dead_letter_topic(MAINTENANCE)}
    with pubsub_v1.SubscriberClient() as subscriber:
        sub = subscriber.get_subscription(
            subscription=subscriber.subscription_path(project, pubsub_setup.push_subscription_name("aggregate")))
        assert sub.push_config.push_endpoint == f"http://127.0.0.1:3/projects/{project}/topics/{TELEMETRY_INGESTED}"
        assert sub.dead_letter_policy.max_delivery_attempts == pubsub_setup.MAX_DELIVERY_ATTEMPTS
        assert sub.dead_letter_policy.dead_letter_topic.endswith(f"/topics/{TELEMETRY_INGESTED}-dlq")
        inspect = subscriber.get_subscription(subscription=subscriber.subscription_path(
            project, pubsub_setup.inspect_subscription_name(TELEMETRY_INGESTED)))
        assert inspect.topic.endswith(f"/topics/{TELEMETRY_INGESTED}-dlq") and not inspect.push_config.push_endpoint


def test_firestore_emulator_starts_and_resets(firestore_emulator: Emulator, firestore_project: str) -> None:
    gcloud.reset_firestore(firestore_emulator, firestore_project)
    assert firestore_emulator.running()
