"""Pub/Sub dead letters: list the messages on the `-dlq` topics' pull subscriptions, replay them to their topics."""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.workers import MESSAGE_ID_ATTRIBUTE, REASON_ATTRIBUTE, SOURCE_TOPIC_ATTRIBUTE, WORKER_ATTRIBUTE

# google-cloud-pubsub (the `pubsub` extra) is imported lazily, by name: it ships no type information.
SubscriberClient = Any
PublisherClient = Any

log = logging.getLogger(__name__)

DEAD_LETTER_ATTRIBUTES = frozenset({REASON_ATTRIBUTE, WORKER_ATTRIBUTE, SOURCE_TOPIC_ATTRIBUTE, MESSAGE_ID_ATTRIBUTE})
# Pub/Sub's own dead-letter policy adds attributes with this prefix (source subscription, delivery attempts).
_PUBSUB_DEAD_LETTER_PREFIX = "CloudPubSubDeadLetter"
# How long a pull waits on an empty subscription: the emulator answers at once when it holds messages.
DEFAULT_WAIT_S = 2.0
EMULATOR_WAIT_S = 0.3
_PULL_BATCH = 100
_MAX_MESSAGES = 10_000  # a bound on one sweep, so a flooded DLQ cannot hold the command forever


@dataclass(frozen=True)
class PubsubDeadLetter:
    """One message on a dead-letter topic. `id` is its id there (what `replay` takes); `original_id` is the
    id it had on `topic`, the topic it failed on."""

    id: str
    topic: str
    subscription: str
    reason: str
    worker: str
    original_id: str
    publish_time: datetime | None
    data: bytes = field(repr=False)
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def original_attributes(self) -> dict[str, str]:
        """The attributes the message carried before it was dead-lettered."""
        return {k: v for k, v in self.attributes.items()
                if k not in DEAD_LETTER_ATTRIBUTES and not k.startswith(_PUBSUB_DEAD_LETTER_PREFIX)}

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "topic": self.topic, "reason": self.reason, "worker": self.worker,
                "original_id": self.original_id, "bytes": self.size,
                "published_at": self.publish_time.isoformat() if self.publish_time else None}


@dataclass
class ReplayResult:
    replayed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # asked-for ids not found on any dead-letter subscription


@dataclass
class _Pulled:
    letter: PubsubDeadLetter
    ack_id: str


class PubsubDeadLetters:
    """Reads dead-letter subscriptions (`subscriptions`: source topic -> the pull subscription on its `-dlq`
    topic). Listing leases every message and then hands it straight back (ack deadline 0), so nothing is
    consumed; replaying publishes a message's data and original attributes to its source topic and only
    then acknowledges it, so a failed publish leaves the dead letter in place."""

    def __init__(self, project: str, subscriptions: Mapping[str, str], *, wait_s: float | None = None,
                 subscriber: SubscriberClient | None = None, publisher: PublisherClient | None = None) -> None:
        if not project:
            raise ValueError("Pub/Sub dead letters need a project id (OBSERVATORY_GCP_PROJECT)")
        self.project = project
        self.subscriptions = dict(subscriptions)
        if wait_s is None:
            wait_s = EMULATOR_WAIT_S if os.environ.get("PUBSUB_EMULATOR_HOST") else DEFAULT_WAIT_S
        self.wait_s = wait_s
        self._subscriber = subscriber
        self._publisher = publisher

    def _client(self, kind: str) -> Any:
        pubsub_v1 = importlib.import_module("google.cloud.pubsub_v1")
        return pubsub_v1.SubscriberClient() if kind == "subscriber" else pubsub_v1.PublisherClient()

    @property
    def subscriber(self) -> SubscriberClient:
        if self._subscriber is None:
            self._subscriber = self._client("subscriber")
        return self._subscriber

    @property
    def publisher(self) -> PublisherClient:
        if self._publisher is None:
            self._publisher = self._client("publisher")
        return self._publisher

    def list_dead_letters(self) -> list[PubsubDeadLetter]:
        """Every dead letter (oldest first), left on its subscription."""
        with self._leased() as pulled:
            return [p.letter for p in pulled]

    def replay_dead_letters(self, ids: Collection[str] | None = None) -> ReplayResult:
        """Re-publish the named dead letters (every one when `ids` is None) to their source topics, then
        acknowledge them; the rest stay."""
        result = ReplayResult()
        wanted = None if ids is None else {str(i) for i in ids}
        with self._leased() as pulled:
            for p in pulled:
                if wanted is not None and p.letter.id not in wanted:
                    continue
                letter = p.letter
                path = self.publisher.topic_path(self.project, letter.topic)
                self.publisher.publish(path, letter.data, **letter.original_attributes).result(timeout=60)
                subscription = self.subscriber.subscription_path(self.project, letter.subscription)
                self.subscriber.acknowledge(request={"subscription": subscription, "ack_ids": [p.ack_id]})
                p.ack_id = ""  # acknowledged: not handed back
                result.replayed.append(letter.id)
                log.info("replayed dead letter %s to %s", letter.id, letter.topic)
        if wanted is not None:
            result.missing = sorted(wanted - set(result.replayed))
        return result

    @contextmanager
    def _leased(self) -> Iterator[list[_Pulled]]:
        """Pull every message of every dead-letter subscription; on exit hand back (ack deadline 0) those
        still carrying an ack id."""
        pulled: list[_Pulled] = []
        try:
            for topic, subscription in self.subscriptions.items():
                pulled += self._pull_all(topic, subscription)
            pulled.sort(key=lambda p: (p.letter.publish_time is None, p.letter.publish_time or datetime.min,
                                       p.letter.id))
            yield pulled
        finally:
            self._release(pulled)

    def _pull_all(self, topic: str, subscription: str) -> list[_Pulled]:
        exceptions = importlib.import_module("google.api_core.exceptions")
        path = self.subscriber.subscription_path(self.project, subscription)
        seen: dict[str, _Pulled] = {}
        while len(seen) < _MAX_MESSAGES:
            try:
                # An empty subscription holds the pull open until the deadline: that bounds the wait.
                response = self.subscriber.pull(request={"subscription": path, "max_messages": _PULL_BATCH},
                                                retry=None, timeout=self.wait_s)
            except exceptions.DeadlineExceeded:
                break
            received = list(response.received_messages)
            if not received:
                break
            for item in received:
                letter = _letter(topic, subscription, item.message)
                if letter.id in seen:  # leased twice in one sweep: keep the newest ack id, release the old
                    self._release([seen[letter.id]])
                seen[letter.id] = _Pulled(letter, item.ack_id)
        return list(seen.values())

    def _release(self, pulled: list[_Pulled]) -> None:
        by_subscription: dict[str, list[str]] = {}
        for p in pulled:
            if p.ack_id:
                by_subscription.setdefault(p.letter.subscription, []).append(p.ack_id)
        for subscription, ack_ids in by_subscription.items():
            path = self.subscriber.subscription_path(self.project, subscription)
            for start in range(0, len(ack_ids), _PULL_BATCH):
                try:
                    self.subscriber.modify_ack_deadline(request={"subscription": path, "ack_deadline_seconds": 0,
                                                                 "ack_ids": ack_ids[start:start + _PULL_BATCH]})
                except Exception as exc:  # the lease then simply runs out: the messages come back anyway
                    log.warning("could not release %d dead letter(s) on %s: %s", len(ack_ids), subscription, exc)

    def close(self) -> None:
        subscriber, self._subscriber = self._subscriber, None
        publisher, self._publisher = self._publisher, None
        if subscriber is not None:
            subscriber.close()
        if publisher is not None:
            stop = getattr(publisher, "stop", None)
            if stop is not None:
                stop()


def _letter(topic: str, subscription: str, message: Any) -> PubsubDeadLetter:
    attributes = {str(k): str(v) for k, v in message.attributes.items()}
    publish_time = message.publish_time
    return PubsubDeadLetter(
        id=str(message.message_id), topic=attributes.get(SOURCE_TOPIC_ATTRIBUTE) or topic,
        subscription=subscription, reason=attributes.get(REASON_ATTRIBUTE, ""),
        worker=attributes.get(WORKER_ATTRIBUTE, ""), original_id=attributes.get(MESSAGE_ID_ATTRIBUTE, ""),
        publish_time=publish_time if isinstance(publish_time, datetime) else None,
        data=bytes(message.data), attributes=attributes)
