"""The HookStore contract (tests/contract/test_hooks_contract.py, unchanged) run on Firestore, plus its
Firestore specifics: the one query hooks run is served by a declared index."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.adapters.firestore import reads
from core.adapters.firestore.indexes import covered
from core.ports.store import Store
from tests.contract.firestore_store import firestore_emulator_host, firestore_store
from tests.contract.test_hooks_contract import (
    end,
    ingest,
    start,
    test_a_key_is_recorded_once,
    test_an_end_without_id_takes_the_latest_unfinished_call_of_its_tool,
    test_ends_record_the_latest_end_and_a_later_start_reopens,
    test_every_org_keeps_its_own_hooks,
    test_hooks_are_session_events_with_outbox_notices,
    test_links_and_workspace_reach_the_sessions_spans,
    test_sessions_widen_and_keep_their_first_workspace,
    test_tool_calls_start_and_end_in_any_order,
)

__all__ = [
    "firestore_emulator_host",
    "test_a_key_is_recorded_once",
    "test_an_end_without_id_takes_the_latest_unfinished_call_of_its_tool",
    "test_ends_record_the_latest_end_and_a_later_start_reopens",
    "test_every_org_keeps_its_own_hooks",
    "test_hooks_are_session_events_with_outbox_notices",
    "test_links_and_workspace_reach_the_sessions_spans",
    "test_sessions_widen_and_keep_their_first_workspace",
    "test_tool_calls_start_and_end_in_any_order",
]


@pytest.fixture
def store(firestore_emulator_host: str) -> Iterator[Store]:
    s = firestore_store(firestore_emulator_host)
    yield s
    s.close()


def test_every_hooks_query_is_served_by_declared_indexes(store: Store) -> None:
    ingest(store, 2)
    reads.RECORDED_SHAPES.clear()
    store.record_hook("acme", start("a", "x1", 1, workspace="/src/w"))
    assert store.record_hook("acme", end("b", None, 2)).tool_use_id == "x1"
    shapes = set(reads.RECORDED_SHAPES)
    assert {s.collection for s in shapes} == {"tool_calls", "spans"}
    assert all(covered(s) for s in shapes)
