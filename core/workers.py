"""Pub/Sub CloudEvent workers: decode a pushed message, run its handler, dead-letter permanent failures."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.errors import CoreError, PermanentError

log = logging.getLogger(__name__)

MESSAGE_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"
MAINTENANCE = "maintenance"
DEAD_LETTER_SUFFIX = "-dlq"

# Attributes a worker adds to a message it dead-letters (next to the message's own attributes).
REASON_ATTRIBUTE = "dead_letter_reason"
WORKER_ATTRIBUTE = "dead_letter_worker"
SOURCE_TOPIC_ATTRIBUTE = "dead_letter_source_topic"
MESSAGE_ID_ATTRIBUTE = "dead_letter_message_id"
_MAX_ATTRIBUTE_BYTES = 1024  # Pub/Sub's cap on an attribute value

_ID_LISTS = ("session_ids", "trace_ids", "task_ids")


def dead_letter_topic(topic: str) -> str:
    return topic + DEAD_LETTER_SUFFIX


@dataclass(frozen=True)
class PubsubMessage:
    """A Pub/Sub message as pushed to a worker (the `data.message` of the CloudEvent, decoded)."""

    data: bytes
    attributes: dict[str, str] = field(default_factory=dict)
    message_id: str = ""
    publish_time: str = ""
    topic: str = ""  # from the CloudEvent source, when the push endpoint names it


class DeadLetterSink(Protocol):
    def __call__(self, topic: str, data: bytes, attributes: dict[str, str]) -> None: ...


def decode_cloud_event(event: Any) -> PubsubMessage:
    """A `messagePublished` CloudEvent (cloudevents.http.CloudEvent or anything with `[...]` attributes and
    `.data`) -> the message; PermanentError when it is not one."""
    event_type = _attribute(event, "type")
    if event_type != MESSAGE_PUBLISHED:
        raise PermanentError(f"unexpected CloudEvent type {event_type!r}")
    data = getattr(event, "data", None)
    message = data.get("message") if isinstance(data, Mapping) else None
    if not isinstance(message, Mapping):
        raise PermanentError("CloudEvent data has no Pub/Sub message")
    encoded = message.get("data") or ""
    if not isinstance(encoded, str):
        raise PermanentError("message data is not a base64 string")
    try:
        payload = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PermanentError("message data is not valid base64") from exc
    raw_attributes = message.get("attributes") or {}
    attributes = {str(k): str(v) for k, v in raw_attributes.items()} if isinstance(raw_attributes, Mapping) else {}
    return PubsubMessage(
        data=payload, attributes=attributes,
        message_id=str(message.get("messageId") or message.get("message_id") or _attribute(event, "id") or ""),
        publish_time=str(message.get("publishTime") or message.get("publish_time") or ""),
        topic=topic_from_source(str(_attribute(event, "source") or "")),
    )


def _attribute(event: Any, name: str) -> Any:
    try:
        return event[name]
    except (KeyError, TypeError, IndexError):
        return None


def topic_from_source(source: str) -> str:
    """`//pubsub.googleapis.com/projects/p/topics/t` -> `t` ("" when the source names no topic)."""
    _, sep, rest = source.partition("/topics/")
    return rest.split("/", 1)[0] if sep else ""


def parse_org_message(data: bytes) -> dict[str, Any]:
    """A pipeline message: a JSON object naming its org; the entity lists, when present, are lists of strings."""
    try:
        message = json.loads(data)
    except ValueError as exc:
        raise PermanentError("payload is not JSON") from exc
    if not isinstance(message, dict):
        raise PermanentError("payload is not a JSON object")
    org_id = message.get("org_id")
    if not isinstance(org_id, str) or not org_id:
        raise PermanentError("payload has no org_id")
    for key in _ID_LISTS:
        value = message.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise PermanentError(f"payload field {key} is not a list of strings")
    return message


MessageHandler = Callable[[PubsubMessage], None]


class Worker:
    """Runs one handler per pushed message. Returning acknowledges the message. A permanent failure (the
    payload can never succeed, PermanentError or a non-retryable CoreError) is published to the topic's
    dead-letter topic with the reason as an attribute and then acknowledged; anything else (the store
    unavailable, a bug) raises, so Pub/Sub redelivers and the subscription's dead-letter policy catches a
    message that keeps failing. Handlers are idempotent: redelivery and duplicate delivery are safe."""

    def __init__(self, name: str, topic: str, handler: MessageHandler, dead_letter: DeadLetterSink) -> None:
        self.name = name
        self.topic = topic
        self._handler = handler
        self._dead_letter = dead_letter

    def __call__(self, event: Any) -> None:
        try:
            message = decode_cloud_event(event)
        except PermanentError as exc:
            self._reject(_raw_message(event), exc)
            return
        try:
            self._handler(message)
        except PermanentError as exc:
            self._reject(message, exc)
        except CoreError as exc:
            if exc.retryable:
                log.warning("%s: message %s failed, will be redelivered: %s", self.name, message.message_id, exc)
                raise
            self._reject(message, exc)

    def _reject(self, message: PubsubMessage, exc: Exception) -> None:
        reason = str(exc) or type(exc).__name__
        topic = dead_letter_topic(self.topic)
        attributes = {
            **message.attributes,
            REASON_ATTRIBUTE: _truncate(reason),
            WORKER_ATTRIBUTE: self.name,
            SOURCE_TOPIC_ATTRIBUTE: message.topic or self.topic,
            MESSAGE_ID_ATTRIBUTE: message.message_id,
        }
        # A failed dead-letter publish raises: the message is then redelivered, never lost.
        self._dead_letter(topic, message.data, attributes)
        log.error("%s: dead-lettered message %s to %s: %s", self.name, message.message_id or "?", topic, reason)


def _raw_message(event: Any) -> PubsubMessage:
    """Best effort for an undecodable event: keep whatever the message carried, for inspection."""
    data = getattr(event, "data", None)
    message = data.get("message") if isinstance(data, Mapping) else None
    if isinstance(message, Mapping):
        raw = message.get("data")
        body = raw.encode() if isinstance(raw, str) else json.dumps(raw, default=str).encode()
        return PubsubMessage(data=body, message_id=str(message.get("messageId") or ""),
                             topic=topic_from_source(str(_attribute(event, "source") or "")))
    body = data if isinstance(data, bytes) else json.dumps(data, default=str).encode()
    return PubsubMessage(data=body, message_id=str(_attribute(event, "id") or ""))


def _truncate(value: str) -> str:
    encoded = value.encode()
    if len(encoded) <= _MAX_ATTRIBUTE_BYTES:
        return value
    return encoded[: _MAX_ATTRIBUTE_BYTES - 3].decode(errors="ignore") + "..."


def logging_dead_letter(topic: str, data: bytes, attributes: dict[str, str]) -> None:
    """The dead-letter sink without Pub/Sub (the local bus): loud in the log, since nothing else keeps it."""
    log.error("dead letter for %s (no Pub/Sub bus configured): attributes=%s data=%r", topic, attributes, data[:500])
