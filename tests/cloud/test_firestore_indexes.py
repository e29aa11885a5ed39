"""Every query the Firestore store runs is served by an index declared in core/adapters/firestore/indexes.py
(the emulator does not enforce composite indexes, so this is the check), plus Firestore-only write paths."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from core.adapters.firestore import layout, reads
from core.adapters.firestore.indexes import INDEXES, QueryShape, covered
from core.adapters.firestore.store import MAX_WRITES, FirestoreStore
from core.ingest import IngestService
from core.models import MetricQuery, SpanQuery, TraceQuery
from core.ports.store import SessionLink
from core.pricing import PriceTable
from core.records import Batch, Links, LlmCallRecord, SpanRecord, ToolCallRecord, Usage
from core.span_filter import SpanFilter
from tests.contract.firestore_store import firestore_emulator_host, firestore_store
from tests.payloads import log_request, trace_request

__all__ = ["firestore_emulator_host"]

T0 = datetime(2020, 1, 1, tzinfo=UTC)
T1 = datetime(2100, 1, 1, tzinfo=UTC)


@pytest.fixture
def store(firestore_emulator_host: str) -> Iterator[FirestoreStore]:
    s = firestore_store(firestore_emulator_host)
    yield s
    s.close()


def _every_query(store: FirestoreStore) -> None:
    """Run every read path and every unit-of-work lookup, with each filter alone and all together."""
    svc = IngestService(store, PriceTable.load(), SpanFilter.from_env({}))
    svc.ingest("acme", "traces", trace_request(3, attrs={"session.id": "s", "gen_ai.request.model": "m"}), "d")
    svc.ingest("acme", "logs", log_request([{"event.name": "api_request", "session.id": "s", "model": "m",
                                             "request_id": "r1", "input_tokens": "1", "output_tokens": "2"}]), "e")
    store.list_traces("acme", TraceQuery())
    store.list_traces("acme", TraceQuery(start_time=T0, end_time=T1))
    store.list_traces("acme", TraceQuery(session_id="s", task_id="t", trace_id="x"))
    spans = {"task_id": "t", "trace_id": "x", "agent_assignment_id": "a", "session_id": "s", "provider": "p",
             "model": "m", "status": "ok", "workspace": "w"}
    store.list_spans("acme", SpanQuery())
    store.list_spans("acme", SpanQuery(start_after=T0, start_before=T1))
    for field, value in spans.items():
        store.list_spans("acme", SpanQuery.model_validate({field: value, "start_after": T0}))
    store.list_spans("acme", SpanQuery.model_validate(spans | {"start_after": T0, "start_before": T1}))
    store.get_trace("acme", "x")
    store.list_sessions("acme", 10, 0)
    store.get_session("acme", "s")
    store.session_tool_calls("acme", "s")
    store.session_llm_calls("acme", "s")
    store.session_events("acme", "s")
    store.session_events("acme", "s", ["api_request"])
    store.session_span_count("acme", "s")
    store.list_metric_points("acme", MetricQuery())
    store.list_metric_points("acme", MetricQuery(session_id="s", name="n", workspace="w", since=T0, until=T1))
    for field in ("session_id", "name", "workspace"):
        store.list_metric_points("acme", MetricQuery.model_validate({field: "v", "since": T0}))
    with store.unit_of_work() as uow:
        uow.llm_calls_by_ids("acme", ["r1"])
        uow.llm_call_candidates("acme", "s", 0, 2**62, [2])
        uow.session_links("acme", ["s"])
        uow.session_workspaces("acme", ["s"])
        uow.tool_use_ids_for_spans("acme", [("x", "y")])
        uow.adopt_tool_placeholders("acme", {"span:x:y": "real"})
        uow.link_session_to_task("acme", "s", SessionLink("t", None))
    list(store.iter_priced())
    store.claim_outbox(10)
    store.outbox_backlog()


def test_every_query_the_store_runs_is_covered_by_a_declared_index(store: FirestoreStore) -> None:
    reads.RECORDED_SHAPES.clear()
    _every_query(store)
    assert len(reads.RECORDED_SHAPES) > 10
    missing = sorted((s for s in reads.RECORDED_SHAPES if not covered(s)), key=repr)
    assert missing == []


def test_the_coverage_rule_rejects_an_undeclared_combination() -> None:
    assert covered(QueryShape("spans", ("model", "session_id"), ("start_ns", "DESCENDING")))
    assert covered(QueryShape("spans", ("model", "session_id"), None))  # equality only: single-field merge
    assert covered(QueryShape("sessions", (), ("last_seen_ns", "DESCENDING")))
    assert not covered(QueryShape("spans", ("model",), ("start_ns", "ASCENDING")))
    assert not covered(QueryShape("tool_calls", ("tool_name",), ("time_ns", "ASCENDING")))
    assert covered(QueryShape("events", ("name", "session_id"), ("time_ns", "ASCENDING")))


def test_indexes_are_unique_and_name_known_collections() -> None:
    assert len(set(INDEXES)) == len(INDEXES)
    known = set(layout.FACT_COLLECTIONS) | set(layout.ENTITY_COLLECTIONS)
    assert {ix.collection for ix in INDEXES} <= known
    assert all(len(ix.fields) >= 2 for ix in INDEXES)


def test_every_fact_document_carries_a_ttl_field(store: FirestoreStore) -> None:
    _every_query(store)
    for collection in (layout.SPANS, layout.TRACES, layout.LLM_CALLS, layout.EVENTS, layout.SESSIONS,
                       layout.SESSION_LINKS, layout.EVENT_LOG):
        docs = [s.to_dict() for s in store.client.collection(f"orgs/acme/{collection}").stream()]
        assert docs, collection
        assert all(isinstance(d.get(layout.TTL_FIELD), datetime) for d in docs), collection


def test_a_batch_larger_than_one_commit_is_written_whole(store: FirestoreStore) -> None:
    calls = [ToolCallRecord(f"t{i}", "s", tool_name="Bash", time_ns=i + 1) for i in range(MAX_WRITES + 20)]
    with store.unit_of_work() as uow:
        uow.write(Batch("acme", tool_calls=calls), "x", [("topic", b"p")])
    assert len(store.session_tool_calls("acme", "s")) == MAX_WRITES + 20
    assert store.outbox_backlog() == 1


def test_placeholder_tool_calls_merge_into_their_real_id(store: FirestoreStore) -> None:
    with store.unit_of_work() as uow:
        uow.write(Batch("acme", tool_calls=[ToolCallRecord("span:tr:sp", "s", duration_ms=3.0, trace_id="tr",
                                                           span_id="sp")]), "x", [])
    with store.unit_of_work() as uow:
        uow.adopt_tool_placeholders("acme", {"span:tr:sp": "toolu_1"})
        uow.write(Batch("acme", tool_calls=[ToolCallRecord("toolu_1", "s", tool_name="Read")]), "y", [])
    [tool] = store.session_tool_calls("acme", "s")
    assert (tool.tool_use_id, tool.tool_name, tool.duration_ms, tool.span_id) == ("toolu_1", "Read", 3.0, "sp")
    with store.unit_of_work() as uow:
        assert uow.tool_use_ids_for_spans("acme", [("tr", "sp")]) == {("tr", "sp"): "toolu_1"}


def test_recomputed_costs_are_stored_on_the_priced_facts(store: FirestoreStore) -> None:
    call = LlmCallRecord("req/1", "s", 1_000, 5.0, Usage(model="m", tokens_out=7), request_id="r1")
    with store.unit_of_work() as uow:
        uow.write(Batch("acme", llm_calls=[call]), "x", [])
    [(table, org, key, rec)] = list(store.iter_priced())
    assert (table, org, key) == ("llm_calls", "acme", "req/1")
    rec.usage.computed_cost_usd = 1.5
    store.update_computed_costs(table, [(org, key, rec), ("acme", "missing", rec)])
    [view] = store.session_llm_calls("acme", "s")
    assert (view.computed_cost_usd, view.cost_usd) == (1.5, 1.5)
    assert len(store.session_llm_calls("acme", "s")) == 1  # a missing key creates nothing


def _span(span_id: str, session_id: str) -> SpanRecord:
    return SpanRecord("tr1", span_id, None, "op", "internal", "ok", None, 1_000, 2_000, session_id, "svc", "other",
                      "", Usage(), Links(), "{}", "{}", None)


def test_spans_written_in_the_same_unit_are_linked_too(store: FirestoreStore) -> None:
    with store.unit_of_work() as uow:
        uow.write(Batch("acme", spans=[_span("a1", "s1")]), "a", [])
    with store.unit_of_work() as uow:
        uow.write(Batch("acme", spans=[_span("b2", "s1"), _span("c3", "other")]), "b", [])
        assert uow.link_session_to_task("acme", "s1", SessionLink("task-1", None)) == 2
    assert {s.task_id for s in store.list_spans("acme", SpanQuery(session_id="s1"))} == {"task-1"}
    assert store.list_traces("acme", TraceQuery(task_id="task-1"))[0].span_count == 3
    assert store.list_spans("acme", SpanQuery(offset=2**40)) == []
