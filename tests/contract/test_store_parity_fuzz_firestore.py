"""Generated OTLP payloads (tests/otlp_strategies.py, times within hours of each other) ingested into the SQLite and
the Firestore stores: every read the API serves from the Store (traces, spans, sessions and their calls, events
and metric points, session summaries, insights) answers the same on both."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from pydantic import BaseModel

from core.adapters.sqlite import SqliteStore
from core.aggregate import handle_ingested
from core.ingest import IngestService
from core.insights import service
from core.insights.models import InsightQuery
from core.models import MetricQuery, SpanQuery, TraceQuery
from core.ports.insights import DIMENSIONS
from core.ports.store import Store
from core.pricing import PriceTable
from core.sessions import session_summary
from core.span_filter import SpanFilter
from tests.contract.firestore_store import firestore_emulator_host, firestore_store
from tests.otlp_strategies import HOUR_NS, RECENT_NS, RECENT_REQUESTS, SIGNALS

__all__ = ["firestore_emulator_host"]

_NOW = datetime.fromtimestamp((RECENT_NS + 4 * HOUR_NS) / 10**9, UTC)
_PRICES = PriceTable.load()
_orgs = itertools.count()


@pytest.fixture(scope="module")
def stores(firestore_emulator_host: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Store]]:
    sqlite = SqliteStore(tmp_path_factory.mktemp("store-parity") / "store.db")
    firestore = firestore_store(firestore_emulator_host)
    yield sqlite, firestore
    sqlite.close()
    firestore.close()


def _canonical(value: Any) -> Any:
    """Models as plain data, floats rounded (the stores sum in different orders), and lists in a canonical
    order: records with equal sort keys (a generated time is often repeated) may come in either order."""
    if isinstance(value, BaseModel):
        return _canonical(value.model_dump(mode="json"))
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return sorted((_canonical(v) for v in value), key=repr)
    return value


def _answers(store: Store, org: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "traces": store.list_traces(org, TraceQuery(limit=1000)),
        "spans": store.list_spans(org, SpanQuery(limit=1000)),
        "sessions": store.list_sessions(org, 1000, 0),
        "points": store.list_metric_points(org, MetricQuery(limit=1000)),
        "summary": service.metrics_summary(store, org, InsightQuery(), _NOW),
        "heatmap": service.heatmap(store, org, InsightQuery(tz="Asia/Kolkata"), _NOW),
        **{dimension: service.breakdown(store, org, dimension, InsightQuery(), _NOW) for dimension in DIMENSIONS},
    }
    for trace in out["traces"]:
        out[f"trace {trace.trace_id}"] = store.get_trace(org, trace.trace_id)
    for session in out["sessions"]:
        sid = session.session_id
        out[f"session {sid}"] = (store.get_session(org, sid), store.session_tool_calls(org, sid),
                                 store.session_llm_calls(org, sid), store.session_events(org, sid),
                                 store.session_span_count(org, sid), session_summary(store, _PRICES, org, sid))
    return {k: _canonical(v) for k, v in out.items()}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sent=RECENT_REQUESTS)
def test_generated_telemetry_reads_the_same_on_both_stores(stores: tuple[Store, Store],
                                                          sent: list[tuple[str, Any]]) -> None:
    org = f"fuzz-{next(_orgs)}"  # each example reads back its own org only
    for store in stores:
        ingest = IngestService(store, _PRICES, SpanFilter.from_env({}))
        for n, (path, message) in enumerate(sent):
            ingest.ingest(org, SIGNALS[path], message, f"{org}-{n}")
        while messages := store.claim_outbox(500):
            handle_ingested(store, _PRICES, [m.payload for m in messages])
            store.ack_outbox([m.id for m in messages])
    sqlite, firestore = (_answers(store, org) for store in stores)
    assert sorted(firestore) == sorted(sqlite)
    for key, expected in sqlite.items():
        assert firestore[key] == expected, key


def test_the_answers_compare_something() -> None:
    """_canonical keeps what it compares: ids, counts and rounded money survive, list order does not matter."""
    a = _canonical([{"id": "b", "cost": 0.1 + 0.2}, {"id": "a", "cost": 1.0}])
    assert a == _canonical([{"id": "a", "cost": 1.0}, {"id": "b", "cost": 0.3}])
    assert a != _canonical([{"id": "a", "cost": 1.0}, {"id": "b", "cost": 0.31}])
