"""Worker composition: the bus, analytics and CloudEvent workers built from settings over the shared container.

Environment variables (read here until core/config.py carries them):
  OBSERVATORY_BUS                 `local` (default): the in-process outbox bus; `pubsub`: Google Cloud Pub/Sub
  OBSERVATORY_GCP_PROJECT         Google Cloud project of the Pub/Sub topics (falls back to GOOGLE_CLOUD_PROJECT)
  OBSERVATORY_PUBLISH_TIMEOUT_S   seconds a publish may take before ingest answers 503; default 30
  OBSERVATORY_CLICKHOUSE_URL      the analytics store; unset = exports are dropped with a log line per message
                                  (the container's `analytics`)
Topics are fixed: `telemetry-ingested`, `maintenance` and their `-dlq` dead-letter topics.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from core.aggregate import handle_ingested
from core.config import Settings
from core.ports.bus import TELEMETRY_INGESTED
from core.retention import run_retention
from core.workers import MAINTENANCE, DeadLetterSink, PubsubMessage, Worker, logging_dead_letter, parse_org_message
from functions._bootstrap import Container, container, rollup_sink

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Workers:
    container: Container
    settings: Settings
    dead_letter: DeadLetterSink
    aggregate: Worker
    export_clickhouse: Worker
    retention: Worker


def build(c: Container, settings: Settings) -> Workers:
    dead_letter: DeadLetterSink = logging_dead_letter
    bus = c.pubsub  # the container's publisher: one per process, closed with the container
    if bus is not None:

        def publish_dead_letter(topic: str, data: bytes, attributes: dict[str, str]) -> None:
            bus.publish_message(topic, data, attributes)

        dead_letter = publish_dead_letter
    # Analytics opens on the first export or rollup (a retention process never opens it).
    rollups = rollup_sink([c]) if settings.clickhouse_url else None

    def aggregate(message: PubsubMessage) -> None:
        parse_org_message(message.data)
        handle_ingested(c.store, c.prices, [message.data], rollups=rollups)

    def export(message: PubsubMessage) -> None:
        from core.analytics_export import export_message

        export_message(c.analytics, c.store, parse_org_message(message.data))

    def retention(message: PubsubMessage) -> None:
        # Cloud Scheduler's message only says "now": every org's expired rows go, in chunks, idempotently.
        report = run_retention(c.store)
        log.info("retention (message %s): %s", message.message_id, report)

    return Workers(c, settings, dead_letter,
                   Worker("aggregate", TELEMETRY_INGESTED, aggregate, dead_letter),
                   Worker("export_clickhouse", TELEMETRY_INGESTED, export, dead_letter),
                   Worker("retention", MAINTENANCE, retention, dead_letter))


_lock = threading.Lock()
_built: Workers | None = None


def workers() -> Workers:
    """Built once per container (a test that resets the container gets fresh workers)."""
    global _built
    c = container()
    with _lock:
        if _built is None or _built.container is not c:
            _built = build(c, c.settings)
        return _built


def reset() -> None:
    global _built
    with _lock:
        _built = None

