"""The ChainStore contract (tests/contract/test_chains_contract.py, unchanged) run on Firestore, and the chain
queries' composite indexes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from core.adapters.firestore import reads
from core.adapters.firestore.indexes import covered
from core.adapters.firestore.store import FirestoreStore
from core.chains import rules
from core.chains.models import ChainQuery, EvalQuery
from core.ports.store import Store
from tests.contract.firestore_store import firestore_emulator_host, firestore_store
from tests.contract.test_chains_contract import (
    T0,
    approve,
    assessment,
    chain,
    metrics,
    stage,
    test_a_failing_decision_rolls_back_everything,
    test_a_final_chain_keeps_its_status_through_approvals,
    test_a_refusing_check_creates_nothing,
    test_a_resent_decision_is_a_no_op_and_a_different_one_conflicts,
    test_approval_flow_drives_stage_and_chain_status_and_appends_events,
    test_chain_round_trip_prefix_and_duplicates,
    test_concurrent_stage_creation_gets_distinct_numbers,
    test_deciding_a_stage_that_does_not_await_approval_conflicts,
    test_delete_cascades_to_stages_and_entries,
    test_errors_are_counted_and_fail_the_stage,
    test_eval_assessments_round_trip_and_filter,
    test_invalid_stage_transitions_change_nothing,
    test_list_filters_summaries_and_agent_flow,
    test_lookup_by_message_task_and_source,
    test_metric_entries_apply_once_per_key_and_totals_are_sums,
    test_pending_approvals_oldest_first_with_chain_source,
    test_spans_link_to_stages_and_page,
    test_stage_numbers_follow_and_current_stage_tracks_them,
    test_stats_counts_and_agents_in_one_pass_each,
    test_status_timestamps_and_stages_completed_are_derived,
)

__all__ = [
    "firestore_emulator_host",
    "test_a_failing_decision_rolls_back_everything",
    "test_a_final_chain_keeps_its_status_through_approvals",
    "test_a_refusing_check_creates_nothing",
    "test_a_resent_decision_is_a_no_op_and_a_different_one_conflicts",
    "test_approval_flow_drives_stage_and_chain_status_and_appends_events",
    "test_chain_round_trip_prefix_and_duplicates",
    "test_concurrent_stage_creation_gets_distinct_numbers",
    "test_deciding_a_stage_that_does_not_await_approval_conflicts",
    "test_delete_cascades_to_stages_and_entries",
    "test_errors_are_counted_and_fail_the_stage",
    "test_eval_assessments_round_trip_and_filter",
    "test_invalid_stage_transitions_change_nothing",
    "test_list_filters_summaries_and_agent_flow",
    "test_lookup_by_message_task_and_source",
    "test_metric_entries_apply_once_per_key_and_totals_are_sums",
    "test_pending_approvals_oldest_first_with_chain_source",
    "test_spans_link_to_stages_and_page",
    "test_stage_numbers_follow_and_current_stage_tracks_them",
    "test_stats_counts_and_agents_in_one_pass_each",
    "test_status_timestamps_and_stages_completed_are_derived",
]


@pytest.fixture
def store(firestore_emulator_host: str) -> Iterator[Store]:
    s = firestore_store(firestore_emulator_host)
    yield s
    s.close()


def test_every_chain_query_is_covered_by_a_declared_index(store: FirestoreStore) -> None:
    reads.RECORDED_SHAPES.clear()
    store.create_chain("acme", chain("c1", workspace_id="w1", github_repo="o/r", github_issue_number=1))
    store.create_stage("acme", stage("s1", "c1", task_id="t1", message_id="m1"))
    store.create_stage("acme", stage("s2", "c1"))
    metrics(store, "acme", "s1", "k", cost=1.0)
    approve(store, "acme", "s2", "pending")
    store.change_stage("acme", "s1", lambda st, _: rules.eval_assessment(st, assessment()))
    store.change_chain("acme", "c1", lambda c: rules.chain_status(c, "completed", T0 + timedelta(seconds=1)))
    store.get_chain("acme", "c1")
    store.chain_ids_with_prefix("acme", "c")
    store.find_chain("acme", message_id="m1")
    store.find_chain("acme", task_id="t1")
    store.find_chain("acme", github_repo="o/r", github_issue_number=1)
    store.list_chains("acme", ChainQuery())
    store.list_chains("acme", ChainQuery(agent_id="coder", status="completed", created_after=T0))
    store.list_chains("acme", ChainQuery(status="active", source_type="manual", workspace_id="w1",
                                         github_repo="o/r", created_after=T0))
    for field, value in (("status", "active"), ("source_type", "manual"), ("workspace_id", "w1"),
                         ("github_repo", "o/r")):
        store.list_chains("acme", ChainQuery.model_validate({field: value, "created_after": T0}))
    store.list_stages("acme", "c1")
    store.pending_approvals("acme", 10, 0)
    store.query_evals("acme", EvalQuery())
    store.query_evals("acme", EvalQuery(chain_id="c1", model="m", language="go", benchmark_id="b", condition="x",
                                        eval_mode="agent", success_only=True))
    store.query_evals("acme", EvalQuery(failure_only=True))
    store.chain_stats("acme", None)
    store.chain_stats("acme", T0)
    store.chain_status_counts("acme", T0)
    store.chain_stats_by_agent("acme", T0)
    store.stage_spans("acme", "s1", 10, 0)
    store.link_span("acme", "t", "s", "c1", "s1")
    store.delete_chain("acme", "c1")
    assert len(reads.RECORDED_SHAPES) > 5
    missing = sorted((s for s in reads.RECORDED_SHAPES if not covered(s)), key=repr)
    assert missing == []


def test_offsets_past_the_end_return_empty_pages(store: FirestoreStore) -> None:
    store.create_chain("acme", chain("c1"))
    assert store.list_chains("acme", ChainQuery(offset=2**40)) == []
    assert store.pending_approvals("acme", 10, 2**40) == []
    assert store.query_evals("acme", EvalQuery(offset=2**40)) == []
    assert store.stage_spans("acme", "s", 10, 2**40) == ([], 0)
