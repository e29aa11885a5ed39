"""The ErasureStore contract (tests/contract/test_erasure_contract.py, unchanged) run on Firestore."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.adapters.firestore import reads
from core.adapters.firestore.indexes import QueryShape, covered
from core.ports.store import Store
from tests.contract.firestore_store import firestore_emulator_host, firestore_store
from tests.contract.test_erasure_contract import (
    test_purge_enqueues_the_notice_with_the_erasure,
    test_purge_erases_everything_of_the_session,
    test_purge_is_idempotent,
    test_purge_leaves_other_sessions_and_orgs_untouched,
    test_purge_of_unknown_session_deletes_nothing,
    test_purge_removes_metric_points_of_the_session,
)

__all__ = [
    "firestore_emulator_host",
    "test_purge_enqueues_the_notice_with_the_erasure",
    "test_purge_erases_everything_of_the_session",
    "test_purge_is_idempotent",
    "test_purge_leaves_other_sessions_and_orgs_untouched",
    "test_purge_of_unknown_session_deletes_nothing",
    "test_purge_removes_metric_points_of_the_session",
]


@pytest.fixture
def store(firestore_emulator_host: str) -> Iterator[Store]:
    s = firestore_store(firestore_emulator_host)
    yield s
    s.close()


def test_the_purge_queries_are_served_by_declared_indexes(store: Store) -> None:
    test_purge_erases_everything_of_the_session(store)
    shapes = {QueryShape(t, ("session_id",), None) for t in ("spans", "llm_calls", "tool_calls", "events",
                                                             "metric_points")}
    shapes |= {QueryShape(t, ("trace_id",), None) for t in ("llm_calls", "tool_calls")}
    assert shapes <= reads.RECORDED_SHAPES and all(covered(s) for s in shapes)
