"""The Store port's telemetry contract (tests/contract/test_store_contract.py, unchanged) run on Firestore."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.ports.store import Store
from tests.contract.firestore_store import firestore_emulator_host, firestore_store
from tests.contract.test_store_contract import (
    test_a_session_learns_its_workspace_from_span_attributes,
    test_every_read_stays_inside_its_org,
    test_failed_unit_of_work_writes_nothing,
    test_llm_call_lookups_by_id_and_candidates,
    test_older_rollup_never_overwrites_newer,
    test_orphan_spans_linked_when_their_task_is_learned,
    test_outbox_is_durable_until_acknowledged,
    test_replaying_a_batch_changes_no_stored_fact,
    test_rollups_saved_together_keep_each_sessions_newest,
    test_session_facts_select_what_the_rollup_reads_within_the_org,
    test_sessions_merge_first_last_seen_and_models,
    test_tool_call_sources_fill_fields_and_never_clear_them,
)

__all__ = [
    "firestore_emulator_host",
    "test_a_session_learns_its_workspace_from_span_attributes",
    "test_every_read_stays_inside_its_org",
    "test_failed_unit_of_work_writes_nothing",
    "test_llm_call_lookups_by_id_and_candidates",
    "test_older_rollup_never_overwrites_newer",
    "test_orphan_spans_linked_when_their_task_is_learned",
    "test_outbox_is_durable_until_acknowledged",
    "test_replaying_a_batch_changes_no_stored_fact",
    "test_rollups_saved_together_keep_each_sessions_newest",
    "test_session_facts_select_what_the_rollup_reads_within_the_org",
    "test_sessions_merge_first_last_seen_and_models",
    "test_tool_call_sources_fill_fields_and_never_clear_them",
]


@pytest.fixture
def store(firestore_emulator_host: str) -> Iterator[Store]:
    s = firestore_store(firestore_emulator_host)
    yield s
    s.close()
