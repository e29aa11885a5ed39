"""Create the pipeline's Pub/Sub topics, dead-letter topics and subscriptions (idempotent)."""

from __future__ import annotations

import contextlib
import importlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.ports.bus import TELEMETRY_INGESTED
from core.workers import MAINTENANCE, dead_letter_topic

# google-cloud-pubsub is imported lazily, by name (the `pubsub` extra; it ships no type information).
PublisherClient = Any
SubscriberClient = Any

log = logging.getLogger(__name__)

TOPICS = (TELEMETRY_INGESTED, MAINTENANCE)
# The worker (CloudEvent function) each push subscription delivers to, and its topic.
WORKER_TOPICS: dict[str, str] = {
    "aggregate": TELEMETRY_INGESTED,
    "export_clickhouse": TELEMETRY_INGESTED,
    "retention": MAINTENANCE,
}
MAX_DELIVERY_ATTEMPTS = 5
ACK_DEADLINE_S = 60
INSPECT_SUFFIX = "-inspect"


def push_subscription_name(worker: str) -> str:
    return f"{WORKER_TOPICS[worker]}-{worker.replace('_', '-')}"


def inspect_subscription_name(topic: str) -> str:
    """The pull subscription on `topic`'s dead-letter topic (`observatory dlq` reads it)."""
    return dead_letter_topic(topic) + INSPECT_SUFFIX


def push_endpoint(base_url: str, project: str, topic: str) -> str:
    """The worker URL with the topic in its path: functions-framework turns a raw push into a CloudEvent whose
    source names the topic only when the path carries `projects/<p>/topics/<t>`."""
    return f"{base_url.rstrip('/')}/projects/{project}/topics/{topic}"


@dataclass
class Topology:
    project: str
    topics: list[str] = field(default_factory=list)
    subscriptions: dict[str, str] = field(default_factory=dict)  # name -> topic


def setup(project: str, worker_urls: Mapping[str, str] | None = None, *,
          publisher: PublisherClient | None = None, subscriber: SubscriberClient | None = None) -> Topology:
    """Topics `telemetry-ingested` and `maintenance`, their `-dlq` topics, a push subscription per worker
    given a URL (dead-letter policy: `MAX_DELIVERY_ATTEMPTS`), and a pull subscription per dead-letter topic.
    Re-running changes nothing but the push endpoints (a restarted worker may have a new port)."""
    already_exists: type[Exception] = importlib.import_module("google.api_core.exceptions").AlreadyExists
    pubsub_v1 = importlib.import_module("google.cloud.pubsub_v1")
    publisher = publisher or pubsub_v1.PublisherClient()
    subscriber = subscriber or pubsub_v1.SubscriberClient()
    topology = Topology(project)
    for topic in TOPICS:
        for name in (topic, dead_letter_topic(topic)):
            with contextlib.suppress(already_exists):
                publisher.create_topic(name=publisher.topic_path(project, name))
            topology.topics.append(name)
        inspect = inspect_subscription_name(topic)
        _create_subscription(subscriber, already_exists, {
            "name": subscriber.subscription_path(project, inspect),
            "topic": publisher.topic_path(project, dead_letter_topic(topic)),
            "ack_deadline_seconds": ACK_DEADLINE_S,
        })
        topology.subscriptions[inspect] = dead_letter_topic(topic)
    for worker, url in (worker_urls or {}).items():
        topic = WORKER_TOPICS[worker]
        name = push_subscription_name(worker)
        path = subscriber.subscription_path(project, name)
        endpoint = push_endpoint(url, project, topic)
        created = _create_subscription(subscriber, already_exists, {
            "name": path,
            "topic": publisher.topic_path(project, topic),
            "push_config": {"push_endpoint": endpoint},
            "ack_deadline_seconds": ACK_DEADLINE_S,
            "dead_letter_policy": {"dead_letter_topic": publisher.topic_path(project, dead_letter_topic(topic)),
                                   "max_delivery_attempts": MAX_DELIVERY_ATTEMPTS},
        })
        if not created:
            subscriber.modify_push_config(request={"subscription": path, "push_config": {"push_endpoint": endpoint}})
        topology.subscriptions[name] = topic
        log.info("push subscription %s -> %s", name, endpoint)
    return topology


def _create_subscription(subscriber: SubscriberClient, already_exists: type[Exception],
                         request: dict[str, object]) -> bool:
    try:
        subscriber.create_subscription(request=request)
    except already_exists:
        return False
    return True
