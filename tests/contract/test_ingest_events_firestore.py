"""Events written by the Firestore ingest and aggregate paths take numbers from the org's event sequence inside
their transactions: a reader paging by ``since`` sees every one, even while ingests run concurrently."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from core import events
from core.ports.store import Store
from tests.contract.firestore_store import firestore_emulator_host, firestore_store
from tests.contract.test_event_log_contract import (
    read_while_writing,
    service,
    test_an_ingested_batch_appends_one_span_created_with_counts_and_a_replay_none,
)
from tests.payloads import trace_request

__all__ = [
    "firestore_emulator_host",
    "test_an_ingested_batch_appends_one_span_created_with_counts_and_a_replay_none",
]


@pytest.fixture
def store(firestore_emulator_host: str) -> Iterator[Store]:
    s = firestore_store(firestore_emulator_host)
    yield s
    s.close()


def test_a_reader_paging_by_since_sees_every_span_created_from_concurrent_ingests(store: Store) -> None:
    writers, per_writer = 3, 5
    errors: list[BaseException] = []

    def ingest(w: int) -> None:
        svc = service(store)
        try:
            for i in range(per_writer):
                svc.ingest("acme", "traces", trace_request(2, attrs={"session.id": f"s{w}"}), f"d{w}-{i}")
        except BaseException as exc:  # pragma: no cover - surfaced below
            errors.append(exc)

    # Numbers follow the clock, not the commit order: readers stop at the settle horizon, never passing a slower
    # commit.
    store.event_settle_s = 1.0
    seen = read_while_writing(store, lambda since: store.list_events("acme", since, 3, types=[events.SPAN_CREATED]),
                              [threading.Thread(target=ingest, args=(w,)) for w in range(writers)])
    assert not errors
    seqs = [e.seq for e in seen]
    assert seqs == sorted(set(seqs)), "repeated or out of order"
    assert sorted(e.subject_id or "" for e in seen) == sorted(f"d{w}-{i}" for w in range(writers)
                                                             for i in range(per_writer)), "skipped events"


def test_a_session_rollup_appends_metrics_updated_in_sequence_and_once_per_change(store: Store) -> None:
    service(store).ingest("acme", "traces", trace_request(2, attrs={"session.id": "s1"}), "d1")
    rollup = '{"span_count":2,"total_tokens_in":0}'
    store.save_session_rollup("acme", "s1", rollup, 1)
    store.save_session_rollup("acme", "s1", rollup, 2)  # the same totals: no new event
    got = store.list_events("acme", 0, 100)
    assert [e.type for e in got] == [events.SPAN_CREATED, events.METRICS_UPDATED]
    assert got[1].seq > got[0].seq and got[1].subject_id == "s1"
    assert store.last_event_seq("acme") == got[1].seq
