"""Generated OTLP payloads (tests/otlp_strategies.py, times within hours of each other) through ingest into the Store
and through the export into the analytics history: the insights of both agree for any values, as the seeded
comparison in test_insights_parity shows for realistic ones."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings

from core.adapters.clickhouse.connection import AnalyticsConnection
from core.adapters.clickhouse.history import ClickHouseHistory
from core.adapters.clickhouse.insights import ClickHouseFactInsights
from core.ingest import IngestService
from core.insights import service
from core.insights.models import InsightQuery
from core.insights.split import SplitInsights
from core.ports.insights import DIMENSIONS
from core.pricing import PriceTable
from core.span_filter import SpanFilter
from tests.contract.test_insights_parity import RecordingStore, _drain, _same
from tests.otlp_strategies import HOUR_NS, RECENT_NS, RECENT_REQUESTS, SIGNALS, one_start_per_span

_NOW = datetime.fromtimestamp((RECENT_NS + 4 * HOUR_NS) / 10**9, UTC)
_QUERIES = (InsightQuery(), InsightQuery(tz="Asia/Kolkata"), InsightQuery(source_type="claude_code"),
            InsightQuery(provider="claude"), InsightQuery(workspace="unknown"))
_orgs = itertools.count()


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory, analytics_engine_dir: Path
           ) -> Iterator[tuple[RecordingStore, ClickHouseHistory, SplitInsights]]:
    store = RecordingStore(tmp_path_factory.mktemp("parity-fuzz") / "store.db")
    conn = AnalyticsConnection(f"chdb://{analytics_engine_dir}?database=parity_fuzz")
    yield store, ClickHouseHistory(conn), SplitInsights(ClickHouseFactInsights(conn), store)
    store.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sent=RECENT_REQUESTS)
def test_generated_telemetry_gives_the_same_insights(
        stores: tuple[RecordingStore, ClickHouseHistory, SplitInsights], sent: list[tuple[str, Any]]) -> None:
    assume(one_start_per_span(sent))
    store, history, split = stores
    org = f"fuzz-{next(_orgs)}"  # each example reads back its own org only
    written, rolled = len(store.written), len(store.rollups)
    ingest = IngestService(store, PriceTable.load(), SpanFilter.from_env({}))
    for n, (path, message) in enumerate(sent):
        ingest.ingest(org, SIGNALS[path], message, f"{org}-{n}")
    _drain(store)
    for batch, version in store.written[written:]:
        history.export(batch.org_id, batch, version_ns=version)
    for org_id, row in store.rollups[rolled:]:
        history.export_session_rollups(org_id, [row])
    for q in _QUERIES:
        where = q.model_dump(exclude_defaults=True)
        _same(service.metrics_summary(store, org, q, _NOW).model_dump(),
              service.metrics_summary(split, org, q, _NOW).model_dump(), f"summary {where}")
        _same(service.provider_comparison(store, org, q, _NOW).model_dump(),
              service.provider_comparison(split, org, q, _NOW).model_dump(), f"providers {where}")
        for dimension in DIMENSIONS:
            _same(service.breakdown(store, org, dimension, q, _NOW).model_dump(),
                  service.breakdown(split, org, dimension, q, _NOW).model_dump(), f"{dimension} {where}")
        _same(service.heatmap(store, org, q, _NOW).model_dump(), service.heatmap(split, org, q, _NOW).model_dump(),
              f"heatmap {where}")
