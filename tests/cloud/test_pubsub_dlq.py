"""`observatory dlq list|replay` on the Pub/Sub bus: dead letters listed without being consumed, replayed to
their source topic."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.adapters.pubsub_bus import PubsubBus
from core.config import get_settings
from core.errors import PermanentError
from core.ports.bus import TELEMETRY_INGESTED
from core.pubsub_dead_letters import PubsubDeadLetters
from core.workers import (
    MESSAGE_ID_ATTRIBUTE,
    MESSAGE_PUBLISHED,
    REASON_ATTRIBUTE,
    SOURCE_TOPIC_ATTRIBUTE,
    WORKER_ATTRIBUTE,
    PubsubMessage,
    Worker,
)
from emulator import pubsub_setup
from emulator.cli import main
from tests.cloud.conftest import pull

REPLAYED = "replayed"  # a pull subscription on the source topic, to see what replay re-publishes
POISON = b'{"not": "an org message"}'


class Event(dict[str, Any]):
    """A minimal CloudEvent: attributes by `[...]`, the Pub/Sub envelope as `.data`."""

    def __init__(self, project: str, data: dict[str, Any]) -> None:
        super().__init__(type=MESSAGE_PUBLISHED, source=f"//pubsub.googleapis.com/projects/{project}/topics/"
                                                        f"{TELEMETRY_INGESTED}", id="ev-1")
        self.data = data


@pytest.fixture
def project(pubsub_project: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OBSERVATORY_BUS", "pubsub")
    get_settings.cache_clear()
    from google.cloud import pubsub_v1

    with pubsub_v1.SubscriberClient() as subscriber:
        subscriber.create_subscription(name=subscriber.subscription_path(pubsub_project, REPLAYED),
                                       topic=f"projects/{pubsub_project}/topics/{TELEMETRY_INGESTED}")
    return pubsub_project


def poison(project: str, n: int = 1) -> None:
    """Dead-letter `n` messages the way a worker does: a handler failing permanently, the DLQ on Pub/Sub."""
    import base64

    def handler(message: PubsubMessage) -> None:
        raise PermanentError("payload has no org_id")

    bus = PubsubBus(project)
    try:

        def sink(topic: str, data: bytes, attributes: dict[str, str]) -> None:
            bus.publish_message(topic, data, attributes)

        worker = Worker("aggregate", TELEMETRY_INGESTED, handler, sink)
        for i in range(n):
            worker(Event(project, {"message": {"data": base64.b64encode(POISON).decode(), "messageId": f"orig-{i}",
                                               "attributes": {"signal": "traces", "n": str(i)}}}))
    finally:
        bus.close()


def dlq_json(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["dlq", "list", "--json"]) == 0
    listed: dict[str, Any] = json.loads(capsys.readouterr().out)
    return listed


def test_list_shows_a_dead_letter_without_consuming_it(project: str, capsys: pytest.CaptureFixture[str]) -> None:
    poison(project)
    listed = dlq_json(capsys)
    assert listed["count"] == 1
    (row,) = listed["dead_letters"]
    assert row["topic"] == TELEMETRY_INGESTED and row["worker"] == "aggregate"
    assert row["reason"] == "payload has no org_id" and row["original_id"] == "orig-0"
    assert row["bytes"] == len(POISON) and row["id"] and row["published_at"]
    # Listed again (and in text): still there, and the same message.
    assert dlq_json(capsys)["dead_letters"] == [row]
    assert main(["dlq", "list"]) == 0
    out = capsys.readouterr().out
    assert row["id"] in out and "payload has no org_id" in out and "1 dead letter(s)" in out
    # Still on the inspection subscription, with its dead-letter attributes.
    (message,) = pull(project, pubsub_setup.inspect_subscription_name(TELEMETRY_INGESTED), 1, timeout_s=3)
    assert message.data == POISON
    assert message.attributes[REASON_ATTRIBUTE] == "payload has no org_id"
    assert message.attributes[WORKER_ATTRIBUTE] == "aggregate"
    assert message.attributes[SOURCE_TOPIC_ATTRIBUTE] == TELEMETRY_INGESTED
    assert message.attributes[MESSAGE_ID_ATTRIBUTE] == "orig-0"


def test_replay_republishes_to_the_source_topic_and_empties_the_dlq(
        project: str, capsys: pytest.CaptureFixture[str]) -> None:
    poison(project, 3)
    rows = dlq_json(capsys)["dead_letters"]
    assert len(rows) == 3
    assert main(["dlq", "replay"]) == 2  # names nothing: refused
    capsys.readouterr()
    first = rows[0]["id"]
    assert main(["dlq", "replay", first]) == 0
    assert "replayed 1 " in capsys.readouterr().out
    assert [r["id"] for r in dlq_json(capsys)["dead_letters"]] == [r["id"] for r in rows[1:]]
    assert main(["dlq", "replay", "no-such-id"]) == 1  # reported, nothing touched
    assert "not found: no-such-id" in capsys.readouterr().err
    assert main(["dlq", "replay", "--all"]) == 0
    assert "replayed 2 " in capsys.readouterr().out
    assert dlq_json(capsys) == {"dead_letters": [], "count": 0}
    replayed = pull(project, REPLAYED, 3, timeout_s=5)
    assert sorted(m.attributes["n"] for m in replayed) == ["0", "1", "2"]
    # The data and the original attributes, without the dead-letter ones.
    assert all(m.data == POISON and set(m.attributes) == {"signal", "n"} for m in replayed)


def test_an_empty_dlq_lists_nothing_and_replays_nothing(project: str) -> None:
    letters = PubsubDeadLetters(project, {TELEMETRY_INGESTED: pubsub_setup.inspect_subscription_name(
        TELEMETRY_INGESTED)}, wait_s=0.5)
    try:
        assert letters.list_dead_letters() == []
        assert letters.replay_dead_letters().replayed == []
    finally:
        letters.close()
