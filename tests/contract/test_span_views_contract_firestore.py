"""The SpanViewStore contract (tests/contract/test_span_views_contract.py, unchanged) run on Firestore, and every
query the span views run checked against the declared composite indexes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.adapters.firestore import reads
from core.adapters.firestore.indexes import covered
from core.adapters.firestore.store import FirestoreStore
from core.models import SpanQuery
from core.ports.store import Store
from tests.contract.firestore_store import firestore_emulator_host, firestore_store
from tests.contract.test_span_views_contract import (
    T0,
    span,
    test_activity_sessions_filter_and_order,
    test_create_span_enqueues_its_change_and_a_replay_changes_nothing,
    test_exec_spans_newest_first_with_blobs,
    test_find_span_prefers_the_latest_when_traces_reuse_an_id,
    test_ingested_spans_are_found_by_id_once_their_traces_are_indexed,
    test_lite_reads_leave_blobs_out_and_keep_their_order,
    test_replace_names_old_and_new_task_and_delete_names_the_old,
    test_session_digests,
    test_span_events_are_appended_in_order,
    test_span_writes_name_their_spans_and_span_records_read_them_back,
    test_span_writes_stay_inside_their_org,
    test_task_sessions_from_spans_and_links,
    test_task_span_summary_totals_and_top_names,
    test_tool_calls_by_span_and_by_time,
    test_traces_listed_by_their_first_span_newest_first,
)

__all__ = [
    "firestore_emulator_host",
    "test_activity_sessions_filter_and_order",
    "test_create_span_enqueues_its_change_and_a_replay_changes_nothing",
    "test_exec_spans_newest_first_with_blobs",
    "test_find_span_prefers_the_latest_when_traces_reuse_an_id",
    "test_ingested_spans_are_found_by_id_once_their_traces_are_indexed",
    "test_lite_reads_leave_blobs_out_and_keep_their_order",
    "test_replace_names_old_and_new_task_and_delete_names_the_old",
    "test_session_digests",
    "test_span_events_are_appended_in_order",
    "test_span_writes_name_their_spans_and_span_records_read_them_back",
    "test_span_writes_stay_inside_their_org",
    "test_task_sessions_from_spans_and_links",
    "test_task_span_summary_totals_and_top_names",
    "test_tool_calls_by_span_and_by_time",
    "test_traces_listed_by_their_first_span_newest_first",
]


@pytest.fixture
def store(firestore_emulator_host: str) -> Iterator[Store]:
    s = firestore_store(firestore_emulator_host)
    yield s
    s.close()


def test_every_span_view_query_is_covered_by_a_declared_index(store: FirestoreStore) -> None:
    reads.RECORDED_SHAPES.clear()
    store.create_span("acme", span("a1", task="task-1", session="s1", model="m"))
    store.replace_span("acme", span("a1", task="task-1", session="s1", model="m2"))
    store.append_span_event("acme", "t1", "a1", {"name": "e"})
    store.find_span("acme", "a1")
    store.index_span_ids("acme", ["t1"])
    store.list_spans_lite("acme", SpanQuery.model_validate({
        "task_id": "t", "trace_id": "x", "agent_assignment_id": "a", "session_id": "s", "provider": "p",
        "model": "m", "status": "ok", "workspace": "w", "start_after": "2020-01-01T00:00:00Z"}))
    store.spans_of_traces("acme", ["t1"])
    store.task_spans("acme", "task-1")
    store.session_spans("acme", "s1")
    store.exec_spans("acme", ["op"], 10)
    store.task_span_summary("acme", "task-1")
    store.task_sessions("acme", "task-1")
    store.tool_calls_of_spans("acme", [("t1", "a1")], with_result=True)
    store.session_has_unrecorded_calls("acme", "s1")
    store.session_tool_calls_lite("acme", "s1")
    store.tool_call_near("acme", "s1", "Read", T0)
    store.session_digests("acme", ["s1"])
    store.activity_sessions("acme", None, None, 10, 0)
    store.delete_span("acme", "t1", "a1")
    assert len(reads.RECORDED_SHAPES) > 10
    assert sorted((s for s in reads.RECORDED_SHAPES if not covered(s)), key=repr) == []
