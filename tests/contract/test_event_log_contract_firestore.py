"""The EventLogStore contract (tests/contract/test_event_log_contract.py, unchanged) run on Firestore: the log,
its cursor, filters, dedup, concurrent writers, retention and the stream. The write paths of areas the Firestore
store does not implement yet (catalog, API spans) join when those areas do."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from core.adapters.firestore import reads
from core.adapters.firestore.event_log import settle_horizon
from core.adapters.firestore.indexes import QueryShape, covered
from core.ports.store import Store
from tests.contract.firestore_store import firestore_emulator_host, firestore_store
from tests.contract.test_event_log_contract import (
    ev,
    test_a_dedup_key_appends_once,
    test_a_stream_resumes_after_its_cursor,
    test_append_and_list_in_sequence_order,
    test_drop_events_before_a_cutoff,
    test_every_read_stays_inside_its_org,
    test_filters_by_type_workspace_and_task,
    test_paging_by_cursor_neither_skips_nor_repeats,
    test_the_stream_sends_new_events_heartbeats_and_ends_on_time,
)
from tests.contract.test_event_log_contract import (
    test_concurrent_appends_never_skip_a_reader_paging_by_since as concurrent_appends_never_skip_a_reader,
)

__all__ = [
    "firestore_emulator_host",
    "test_a_dedup_key_appends_once",
    "test_a_stream_resumes_after_its_cursor",
    "test_append_and_list_in_sequence_order",
    "test_drop_events_before_a_cutoff",
    "test_every_read_stays_inside_its_org",
    "test_filters_by_type_workspace_and_task",
    "test_paging_by_cursor_neither_skips_nor_repeats",
    "test_the_stream_sends_new_events_heartbeats_and_ends_on_time",
]


@pytest.fixture
def store(firestore_emulator_host: str) -> Iterator[Store]:
    s = firestore_store(firestore_emulator_host)
    yield s
    s.close()


def test_every_event_log_query_is_served_by_declared_indexes(store: Store) -> None:
    store.append_events("acme", [ev(subject="t1", workspace="w1", task="t1")])
    for filters in ({}, {"types": ["task.created"]}, {"workspace_id": "w1"}, {"task_id": "t1"},
                    {"types": ["task.created", "task.updated"], "workspace_id": "w1", "task_id": "t1"}):
        assert len(store.list_events("acme", 0, 10, **filters)) == 1
    store.last_event_seq("acme")
    store.drop_events_before(0)
    shapes = {s for s in reads.RECORDED_SHAPES if s.collection == "event_log"}
    assert QueryShape("event_log", ("task_id", "type", "workspace_id"), ("seq", "ASCENDING")) in shapes
    assert all(covered(s) for s in shapes)


def test_more_types_than_one_in_filter_takes_are_filtered_all_the_same(store: Store) -> None:
    store.append_events("acme", [ev("task.created", "a"), ev("task.updated", "b"), ev("task.created", "c")])
    many = ["task.created", *(f"x.{i}" for i in range(40))]
    assert [e.subject_id for e in store.list_events("acme", 0, 10, types=many)] == ["a", "c"]
    assert [e.subject_id for e in store.list_events("acme", 0, 1, types=many)] == ["a"]


def test_concurrent_appends_never_skip_a_reader_behind_the_settle_horizon(firestore_emulator_host: str) -> None:
    """Numbers follow the clock, not the commit order (no counter document): with the settle horizon a reader
    paging by cursor still sees every event of concurrent writers exactly once, in order."""
    s = firestore_store(firestore_emulator_host)
    s.event_settle_s = 1.0
    try:
        concurrent_appends_never_skip_a_reader(s)
    finally:
        s.close()


def test_an_event_is_listed_once_it_settles_and_a_fresh_cursor_never_starts_past_the_horizon(
        firestore_emulator_host: str) -> None:
    s = firestore_store(firestore_emulator_host)
    s.event_settle_s = 0.6
    try:
        s.append_events("acme", [ev(subject="t1")])
        assert s.list_events("acme", 0, 10) == []  # inside the settle window: not yet
        assert s.last_event_seq("acme") < settle_horizon(0.0)
        time.sleep(0.7)
        assert [e.subject_id for e in s.list_events("acme", 0, 10)] == ["t1"]
        assert s.last_event_seq("acme") == s.list_events("acme", 0, 10)[0].seq
    finally:
        s.close()
