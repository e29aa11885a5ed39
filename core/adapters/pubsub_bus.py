"""The Bus port over Google Cloud Pub/Sub: payloads split under the message cap, failures as StorageUnavailable."""

from __future__ import annotations

import importlib
import json
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from core.errors import InvalidPayload, StorageUnavailable
from core.ports.bus import Bus, Handler

# The client (google-cloud-pubsub, the `pubsub` extra) is imported lazily, by name: the local stack and ingest
# cold starts never load it, and it ships no type information.
PublisherClient = Any

log = logging.getLogger(__name__)

# Pub/Sub caps a message (data + attributes) at 10 MB; keep clear of it for attributes and framing.
PUBSUB_MAX_MESSAGE_BYTES = 10_000_000
DEFAULT_MAX_DATA_BYTES = 9_500_000

# Attributes carried by every part of a split payload, so a consumer can tell parts apart (it need not: each
# part is a self-contained message naming its org, and workers never depend on order).
PART_ATTRIBUTE = "observatory_part"
PARTS_ATTRIBUTE = "observatory_parts"


def split_payload(payload: bytes, max_bytes: int = DEFAULT_MAX_DATA_BYTES) -> list[bytes]:
    """Split a JSON object whose size exceeds `max_bytes` by partitioning its list fields (halving the
    longest list until every part fits); every other field is copied into each part, so a part is a valid
    message on its own. A payload that fits is returned as is, byte for byte."""
    if len(payload) <= max_bytes:
        return [payload]
    try:
        message = json.loads(payload)
    except ValueError as exc:
        raise InvalidPayload(f"a {len(payload)}-byte message over the cap is not JSON and cannot be split") from exc
    if not isinstance(message, dict):
        raise InvalidPayload("a message over the cap must be a JSON object to be split")
    parts: list[bytes] = []
    _split_into(message, max_bytes, parts)
    return parts


def _encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


def _split_into(message: dict[str, Any], max_bytes: int, out: list[bytes]) -> None:
    encoded = _encode(message)
    if len(encoded) <= max_bytes:
        out.append(encoded)
        return
    lists = [(len(v), k) for k, v in message.items() if isinstance(v, list) and len(v) > 1]
    if not lists:
        raise InvalidPayload(f"a message part of {len(encoded)} bytes has no list left to split under the cap")
    _, key = max(lists)
    items = message[key]
    half = len(items) // 2
    _split_into({**message, key: items[:half]}, max_bytes, out)
    _split_into({**message, key: items[half:]}, max_bytes, out)


def topic_path(project: str, topic: str) -> str:
    return f"projects/{project}/topics/{topic}"


class PubsubBus(Bus):
    """Publishes synchronously: `publish` returns once Pub/Sub stored every part (so ingest can answer 200
    only for a batch the workers will see) and raises StorageUnavailable otherwise, for a 503 + Retry-After.
    Delivery is by push subscriptions to the worker functions (emulator/pubsub_setup.py), so `subscribe`
    only records the handler for in-process callers that want it (`deliver`)."""

    def __init__(self, project: str, *, timeout_s: float = 30.0, max_data_bytes: int = DEFAULT_MAX_DATA_BYTES,
                 publisher: PublisherClient | None = None) -> None:
        if not project:
            raise ValueError("a Pub/Sub bus needs a project id (OBSERVATORY_GCP_PROJECT)")
        self.project = project
        self._timeout_s = timeout_s
        self._max_data_bytes = max_data_bytes
        self._publisher = publisher
        self._lock = threading.Lock()
        self._handlers: dict[str, list[Handler]] = {}

    @property
    def publisher(self) -> PublisherClient:
        with self._lock:
            if self._publisher is None:
                pubsub_v1 = importlib.import_module("google.cloud.pubsub_v1")
                # Batching across calls would delay a synchronous publish; every call flushes its own parts.
                self._publisher = pubsub_v1.PublisherClient(
                    batch_settings=pubsub_v1.types.BatchSettings(max_messages=100, max_latency=0.001,
                                                                 max_bytes=PUBSUB_MAX_MESSAGE_BYTES))
            return self._publisher

    def subscribe(self, topic: str, handler: Handler) -> None:
        self._handlers.setdefault(topic, []).append(handler)

    def deliver(self, topic: str, payloads: list[bytes]) -> None:
        """Call the handlers recorded for `topic` (what a push subscription does through a worker function)."""
        for handler in self._handlers.get(topic, []):
            handler(payloads)

    def publish(self, topic: str, payload: bytes) -> None:
        self.publish_many(topic, [payload])

    def publish_many(self, topic: str, payloads: Sequence[bytes],
                     attributes: dict[str, str] | None = None) -> list[str]:
        """Publish every payload (each split under the cap) and wait for all; returns the message ids."""
        messages: list[tuple[bytes, dict[str, str]]] = []
        for payload in payloads:
            parts = split_payload(payload, self._max_data_bytes)
            for index, part in enumerate(parts):
                extra = {PART_ATTRIBUTE: str(index), PARTS_ATTRIBUTE: str(len(parts))} if len(parts) > 1 else {}
                messages.append((part, {**(attributes or {}), **extra}))
        return self._publish(topic, messages)

    def publish_message(self, topic: str, data: bytes, attributes: dict[str, str] | None = None) -> str:
        """Publish one message as is (no split): dead letters keep the exact bytes that were delivered."""
        return self._publish(topic, [(data, dict(attributes or {}))])[0]

    def _publish(self, topic: str, messages: list[tuple[bytes, dict[str, str]]]) -> list[str]:
        path = topic_path(self.project, topic)
        try:
            publisher = self.publisher
            futures = [publisher.publish(path, data, **attrs) for data, attrs in messages]
            return [str(f.result(timeout=self._timeout_s)) for f in futures]
        except Exception as exc:  # any client, transport or server failure: the batch was not handed over
            log.warning("publish of %d message(s) to %s failed: %s", len(messages), path, exc)
            raise StorageUnavailable(f"could not publish to {topic}: {type(exc).__name__}") from exc

    def close(self) -> None:
        with self._lock:
            publisher, self._publisher = self._publisher, None
        if publisher is not None:
            stop: Callable[[], None] | None = getattr(publisher, "stop", None)
            if stop is not None:
                stop()
