"""Worker composition: the bus, analytics and CloudEvent workers built from settings over the shared container.

Environment variables (read here until core/config.py carries them):
  OBSERVATORY_BUS                 `local` (default): the in-process outbox bus; `pubsub`: Google Cloud Pub/Sub
  OBSERVATORY_GCP_PROJECT         Google Cloud project of the Pub/Sub topics (falls back to GOOGLE_CLOUD_PROJECT)
  OBSERVATORY_PUBLISH_TIMEOUT_S   seconds a publish may take before ingest answers 503; default 30
  OBSERVATORY_CLICKHOUSE_URL      the analytics store; unset = exports are dropped with a log line per message
Topics are fixed: `telemetry-ingested`, `maintenance` and their `-dlq` dead-letter topics.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from core.adapters.null_analytics import NullAnalytics
from core.aggregate import handle_ingested
from core.ports.analytics import Analytics
from core.ports.bus import TELEMETRY_INGESTED
from core.workers import DeadLetterSink, PubsubMessage, Worker, logging_dead_letter, parse_org_message
from functions._bootstrap import Container, container


@dataclass(frozen=True)
class WorkerSettings:
    bus: str = "local"
    gcp_project: str = ""
    publish_timeout_s: float = 30.0
    clickhouse_url: str = ""

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> WorkerSettings:
        env = dict(os.environ if environ is None else environ)
        bus = env.get("OBSERVATORY_BUS") or "local"
        if bus not in ("local", "pubsub"):
            raise ValueError(f"OBSERVATORY_BUS must be one of local, pubsub, got {bus!r}")
        return cls(
            bus=bus,
            gcp_project=env.get("OBSERVATORY_GCP_PROJECT") or env.get("GOOGLE_CLOUD_PROJECT") or "",
            publish_timeout_s=float(env.get("OBSERVATORY_PUBLISH_TIMEOUT_S") or 30.0),
            clickhouse_url=env.get("OBSERVATORY_CLICKHOUSE_URL", ""),
        )


@dataclass(frozen=True)
class Workers:
    container: Container
    settings: WorkerSettings
    analytics: Analytics
    dead_letter: DeadLetterSink
    aggregate: Worker
    export_clickhouse: Worker
    close_bus: object = None


def build(c: Container, settings: WorkerSettings) -> Workers:
    dead_letter: DeadLetterSink = logging_dead_letter
    close_bus = None
    if settings.bus == "pubsub":
        from core.adapters.pubsub_bus import PubsubBus

        bus = PubsubBus(settings.gcp_project, timeout_s=settings.publish_timeout_s)

        def publish_dead_letter(topic: str, data: bytes, attributes: dict[str, str]) -> None:
            bus.publish_message(topic, data, attributes)

        dead_letter = publish_dead_letter
        close_bus = bus.close
    # The ClickHouse adapter arrives with its own issue; until then every export is dropped, loudly.
    analytics: Analytics = NullAnalytics()

    def aggregate(message: PubsubMessage) -> None:
        parse_org_message(message.data)
        handle_ingested(c.store, c.prices, [message.data])

    def export(message: PubsubMessage) -> None:
        analytics.export_batch(parse_org_message(message.data)["org_id"], message.data)

    return Workers(c, settings, analytics, dead_letter,
                   Worker("aggregate", TELEMETRY_INGESTED, aggregate, dead_letter),
                   Worker("export_clickhouse", TELEMETRY_INGESTED, export, dead_letter),
                   close_bus)


_lock = threading.Lock()
_built: Workers | None = None


def workers() -> Workers:
    """Built once per container (a test that resets the container gets fresh workers)."""
    global _built
    c = container()
    with _lock:
        if _built is None or _built.container is not c:
            _close(_built)
            _built = build(c, WorkerSettings.from_env())
        return _built


def reset() -> None:
    global _built
    with _lock:
        _close(_built)
        _built = None


def _close(built: Workers | None) -> None:
    if built is not None and callable(built.close_bus):
        built.close_bus()
