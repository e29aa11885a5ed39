"""The MaintenanceStore contract (tests/contract/test_maintenance_contract.py, unchanged) run on Firestore, plus
its Firestore specifics: health as document counts, traces going with their last span, declared indexes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.adapters.firestore import reads
from core.adapters.firestore.indexes import covered
from core.models import TraceQuery
from core.ports.maintenance import RETENTION_KINDS
from core.ports.store import Store
from core.retention import DAY_NS
from tests.contract.firestore_store import firestore_emulator_host, firestore_store
from tests.contract.test_maintenance_contract import (
    FRESH,
    NOW,
    OLD,
    batch,
    counts,
    test_a_kind_kept_forever_and_configured_ttls,
    test_dead_letters_after_max_attempts_and_replay,
    test_health_reports_without_deleting,
    test_permanent_dead_letter_and_replay_all,
    test_rejection_counts_by_reason_stay_inside_the_org,
    test_retention_deletes_exactly_the_expired_rows_of_each_kind_in_every_org,
    test_retention_deletes_in_chunks,
    test_retention_is_idempotent,
    test_unknown_kind_is_refused,
    write,
)

__all__ = [
    "firestore_emulator_host",
    "test_a_kind_kept_forever_and_configured_ttls",
    "test_dead_letters_after_max_attempts_and_replay",
    "test_health_reports_without_deleting",
    "test_permanent_dead_letter_and_replay_all",
    "test_rejection_counts_by_reason_stay_inside_the_org",
    "test_retention_deletes_exactly_the_expired_rows_of_each_kind_in_every_org",
    "test_retention_deletes_in_chunks",
    "test_retention_is_idempotent",
    "test_unknown_kind_is_refused",
]


@pytest.fixture
def store(firestore_emulator_host: str) -> Iterator[Store]:
    s = firestore_store(firestore_emulator_host)
    yield s
    s.close()


def test_health_counts_documents_per_collection(store: Store) -> None:
    write(store, batch("acme", "x", FRESH, n_spans=3))
    write(store, batch("globex", "y", FRESH))
    store.enqueue_outbox([("t", b"a")])
    health = store.health()
    assert health.backend == "firestore" and health.status == "ok" and health.size_bytes is None
    assert health.counts["spans"] == 4 and health.counts["sessions"] == 2 and health.counts["outbox"] == 1
    assert health.counts["outbox_dead_letters"] == 0
    assert counts(store, "acme", "x")["spans"] == 3  # never destructive


def test_a_trace_goes_with_its_last_span_and_every_retention_query_is_indexed(store: Store) -> None:
    write(store, batch("acme", "old", OLD, n_spans=2))
    write(store, batch("acme", "fresh", FRESH))
    reads.RECORDED_SHAPES.clear()
    for kind in RETENTION_KINDS:
        store.delete_expired(kind, NOW - 30 * DAY_NS, chunk=1)
    assert [t.trace_id for t in store.list_traces("acme", TraceQuery())] == ["t-fresh"]
    assert reads.RECORDED_SHAPES and all(covered(s) for s in reads.RECORDED_SHAPES)
