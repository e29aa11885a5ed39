"""Generated OTLP payloads (tests/otlp_strategies.py) through ingest and the analytics export on embedded ClickHouse:
no value breaks a delivery, and the history holds every span, event, metric point and LLM call the Store kept."""

from __future__ import annotations

import itertools
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from core.adapters.clickhouse import history_schema as schema
from core.adapters.clickhouse.analytics import ClickHouseAnalytics
from core.adapters.sqlite import SqliteStore
from core.analytics_export import export_payloads
from core.ingest import IngestService
from core.pricing import PriceTable
from core.span_filter import SpanFilter
from tests.otlp_strategies import REQUESTS, SIGNALS, one_start_per_span

# Each table's natural key in the Store and in the history (distinct keys: the history may hold a key's versions),
# and the time the history's retention runs on (a record older than the retention is not kept; None: write time).
_KEYS = (("spans", schema.SPANS, "trace_id, span_id", "start_ns"),
         ("events", schema.EVENTS, "event_key", "time_ns"),
         ("metric_points", schema.METRIC_POINTS, "series_key, start_ns, time_ns", "time_ns"),
         ("llm_calls", schema.LLM_CALLS, "call_key", None))
_orgs = itertools.count()


@pytest.fixture(scope="module")
def analytics(analytics_engine_dir: Path) -> Iterator[ClickHouseAnalytics]:
    a = ClickHouseAnalytics(f"chdb://{analytics_engine_dir}?database=export_fuzz")
    yield a
    a.close()


@pytest.fixture(scope="module")
def store() -> Iterator[SqliteStore]:
    with tempfile.TemporaryDirectory() as d:
        s = SqliteStore(Path(d) / "store.db")
        yield s
        s.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests=st.lists(REQUESTS, min_size=1, max_size=3))
def test_generated_payloads_export_whole(analytics: ClickHouseAnalytics, store: SqliteStore,
                                         requests: list[tuple[str, Any]]) -> None:
    assume(one_start_per_span(requests))
    org = f"fuzz-{next(_orgs)}"  # each example reads back its own org only
    svc = IngestService(store, PriceTable.load(), SpanFilter.from_env({}), export_records=True)
    for n, (path, message) in enumerate(requests):
        svc.ingest(org, SIGNALS[path], message, f"{org}-{n}")
    messages = store.claim_outbox(1000)
    export_payloads(analytics, store, [m.payload for m in messages])
    store.ack_outbox([m.id for m in messages])
    conn = analytics.connection
    reader = store._reader()
    retained = time.time_ns() - (schema.DEFAULT_TTL_DAYS - 1) * 86_400 * 10**9
    for table, history_table, key, kept_by in _KEYS:
        recent = f" AND {kept_by} >= {retained}" if kept_by else ""
        kept = reader.execute(f"SELECT COUNT(*) FROM {table} WHERE org_id = ?{recent}", (org,)).fetchone()[0]
        exported = conn.client.query(f"SELECT uniqExact({key}) FROM {conn.database}.{history_table} WHERE "
                                     f"org_id = {{org:String}}{recent}", parameters={"org": org}).result_rows[0][0]
        assert exported == kept, (table, kept, exported)
