"""Composition root: builds settings, store, bus, prices and services once per instance, on first use."""

from __future__ import annotations

import contextlib
import functools
import gc
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core import background_priority
from core.adapters.local_bus import OutboxBus
from core.adapters.null_analytics import NullAnalytics
from core.adapters.sqlite import SqliteStore
from core.auth import KeyResolver
from core.config import Settings, get_settings
from core.fifo_gate import FifoGate
from core.ingest import IngestService
from core.ports.analytics import Analytics
from core.ports.bus import TELEMETRY_INGESTED
from core.ports.insights import InsightStore
from core.ports.store import SessionRollup, Store
from core.pricing import PriceTable
from core.span_filter import SpanFilter

if TYPE_CHECKING:  # imported lazily: the Pub/Sub client and the trace archives are used by some deployments only
    from core.adapters.pubsub_bus import PubsubBus
    from core.aggregate import RollupSink
    from core.ports.trace_archive import TraceArchive


@dataclass(frozen=True)
class Container:
    settings: Settings
    store: Store
    bus: OutboxBus
    prices: PriceTable
    keys: KeyResolver
    ingest: IngestService
    pubsub: PubsubBus | None = None  # with OBSERVATORY_BUS=pubsub: the process's one publisher (relay, dead letters)
    # Held while an OTLP request is decoded, normalised and stored (OBSERVATORY_INGEST_CONCURRENCY).
    ingest_gate: contextlib.AbstractContextManager[object] = field(default_factory=contextlib.nullcontext)

    @functools.cached_property
    def analytics(self) -> Analytics:
        """Opened on first use: a process that never touches analytics (an ingest function, or an HTTP process of
        the local stack that forwards the analytics routes) never opens it."""
        if not self.settings.clickhouse_url:
            return NullAnalytics()
        from core.adapters.clickhouse.analytics import ClickHouseAnalytics

        return ClickHouseAnalytics(self.settings.clickhouse_url, ttl_days=self.settings.analytics_ttl_days)

    @functools.cached_property
    def insights(self) -> InsightStore:
        """Where the insights API aggregates (Settings.insights_on_analytics): the analytics history, or the Store."""
        if not self.settings.insights_on_analytics:
            return self.store
        from core.insights.split import SplitInsights

        return SplitInsights(self.analytics.facts, self.store)

    @functools.cached_property
    def trace_archives(self) -> tuple[TraceArchive, ...]:
        """The remote trace archives (OBSERVATORY_TRACE_ARCHIVES) behind one answer cache; built on the first trace
        read, so no other function imports them. None by default."""
        if not self.settings.trace_archives:
            return ()
        from core.adapters.cloud_trace import CloudTraceArchive
        from core.adapters.jaeger import JaegerArchive
        from core.trace_archive_cache import CachedTraceArchive, TraceArchiveCache

        cache = TraceArchiveCache(self.settings.trace_cache_s)
        kinds = {"gcp": CloudTraceArchive, "jaeger": JaegerArchive}
        return tuple(CachedTraceArchive(kinds[spec.kind](spec), cache) for spec in self.settings.trace_archives)


def build(settings: Settings) -> Container:
    store: Store
    if settings.store == "firestore":  # imported lazily: the client is a cloud-only extra
        from core.adapters.firestore.store import FirestoreStore

        store = FirestoreStore(settings.gcp_project, database=settings.firestore_database,
                               event_settle_s=settings.event_settle_s)
    else:
        store = SqliteStore(settings.sqlite_path, checkpoint_in_process=settings.bus_drainer == "thread")
    prices = PriceTable.load(settings.price_overrides or None)
    bus = OutboxBus(store, poll_s=settings.bus_poll_s)
    holder: list[Container] = []  # the handlers reach the container's analytics, opened on first delivery

    def aggregate(payloads: list[bytes]) -> None:
        from core.aggregate import handle_ingested  # lazy: the worker's, not an ingest function's cold start

        handle_ingested(store, prices, payloads, rollups=rollup_sink(holder) if settings.clickhouse_url else None)

    bus.subscribe(TELEMETRY_INGESTED, aggregate)
    if settings.clickhouse_url:

        def export(payloads: list[bytes]) -> None:
            from core.analytics_export import export_payloads  # lazy: pydantic session models, not on cold start

            background_priority.defer_while_busy(store.last_write_ns, settings.export_defer_s)
            background_priority.run(lambda: export_payloads(holder[0].analytics, store, payloads))

        bus.subscribe(TELEMETRY_INGESTED, export)
    after_store = None
    pubsub = None
    if settings.bus == "pubsub":  # the cloud: every stored batch is relayed to Pub/Sub before ingest answers
        from core.adapters.pubsub_bus import PubsubBus
        from core.outbox_relay import OutboxRelay

        pubsub = PubsubBus(settings.gcp_project, timeout_s=settings.publish_timeout_s)
        after_store = OutboxRelay(store, pubsub).relay
    ingest = IngestService(store, prices, SpanFilter.from_env(), settings.llm_join_window_s, after_store,
                           export_records=bool(settings.clickhouse_url))
    keys = KeyResolver.from_config(settings.api_keys, settings.api_keys_file)
    built = Container(settings, store, bus, prices, keys, ingest, pubsub, ingest_gate(settings.ingest_concurrency))
    holder.append(built)
    return built


def ingest_gate(concurrency: int) -> contextlib.AbstractContextManager[object]:
    """At most ``concurrency`` OTLP requests of this process past the gate at once (0: no gate). Threads of one
    process share one GIL, so two CPU-bound requests interleaved both finish about when the later one would
    have alone; a waiting thread costs no CPU, and other routes (reads, event streams) keep their threads. Measured
    with bench/ingest.py at concurrency 4 on 2 cores: about 7% more spans/s than without the gate."""
    return FifoGate(concurrency) if concurrency else contextlib.nullcontext()


def rollup_sink(holder: list[Container]) -> RollupSink:
    """Session rollups recomputed by the aggregate worker, exported to the container's analytics."""
    def sink(rollups: list[SessionRollup]) -> None:
        from core.analytics_export import export_rollups

        background_priority.run(lambda: export_rollups(holder[0].analytics, rollups))

    return sink


@functools.cache
def container() -> Container:
    """Built lazily inside the serving process (after any fork), so the outbox thread lives where it runs."""
    logging.basicConfig(level=logging.INFO)
    built = build(get_settings())
    if built.settings.bus == "local" and built.settings.bus_drainer == "thread":
        built.bus.start()
    # Modules and the container live as long as the process: keep them out of every later collection,
    # which then only walks request garbage (fewer, shorter pauses on the ingest path).
    gc.freeze()
    return built


def reset() -> None:
    """Tests: forget the cached container (and stop its bus) so new settings take effect."""
    if container.cache_info().currsize:
        c = container()
        c.bus.stop()
        if "analytics" in c.__dict__:
            c.analytics.close()
        if c.pubsub is not None:
            c.pubsub.close()
        for archive in c.__dict__.get("trace_archives", ()):
            archive.close()
        c.store.close()
    container.cache_clear()
    get_settings.cache_clear()
