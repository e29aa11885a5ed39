"""The ChainStore contract: chains and stages, atomic stage numbers, derived totals, approvals, idempotent
metric and error entries, events in the same transaction, evals, span links, stats and org isolation."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.chains import rules
from core.chains.models import (
    ChainMetricsAdd,
    ChainQuery,
    ChainStage,
    EvalAssessment,
    EvalQuery,
    ExecutionChain,
    StageApproval,
    StageMetricsAdd,
)
from core.errors import BadParameter, Conflict
from core.events import APPROVAL_DECISION, APPROVAL_REQUESTED, METRICS_UPDATED
from core.models import SpanQuery
from core.ports.catalog import DuplicateId
from core.ports.chain_records import StageChange
from core.ports.chains import IdempotencyConflict
from core.ports.store import Store
from tests.contract import test_store_contract as _contract
from tests.payloads import trace_request

store = _contract.store  # the adapter-parametrised fixture: every adapter runs this suite

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)


def chain(cid: str, at: datetime = T0, **kw: Any) -> ExecutionChain:
    return ExecutionChain(id=cid, source_type=kw.pop("source_type", "manual"), created_at=at, updated_at=at, **kw)


def stage(sid: str, cid: str, agent: str = "coder", **kw: Any) -> ChainStage:
    return ChainStage(id=sid, chain_id=cid, stage_number=0, agent_id=agent, created_at=kw.pop("at", T0), **kw)


def status(s: Store, org: str, sid: str, to: Any) -> ChainStage:
    out = s.change_stage(org, sid, lambda st, _: rules.stage_status(st, to, NOW))
    assert out is not None
    return out.stage


def approve(s: Store, org: str, sid: str, decision: Any, kind: Any = "merge", feedback: str | None = None
            ) -> ChainStage:
    body = StageApproval(approval_status=decision, approval_type=kind, human_feedback=feedback)
    out = s.change_stage(org, sid, lambda st, ch: rules.approval(st, ch, body, NOW))
    assert out is not None
    return out.stage


def metrics(s: Store, org: str, sid: str, key: str, **amounts: Any) -> tuple[ChainStage, bool]:
    body = StageMetricsAdd(**amounts)
    out = s.change_stage(org, sid, lambda st, ch: rules.stage_metrics(st, ch, body, key))
    assert out is not None
    return out.stage, out.applied


def events(s: Store, org: str, *types: str) -> list[Any]:
    return s.list_events(org, 0, 1000, types=list(types))


# -- chains --------------------------------------------------------------------------------------------------

def test_chain_round_trip_prefix_and_duplicates(store: Store) -> None:
    created = store.create_chain("acme", chain("abc-123", source_type="github_issue", source_ref="o/r#7",
                                               github_repo="o/r", github_issue_number=7, workspace_id="w1"))
    assert created.created_at == T0 and created.status == "active" and created.current_stage == 0
    assert store.get_chain("acme", "abc-123") == created
    with pytest.raises(DuplicateId):
        store.create_chain("acme", chain("abc-123"))
    store.create_chain("acme", chain("abd-999"))
    assert store.chain_ids_with_prefix("acme", "ab") == ["abc-123", "abd-999"]
    assert store.chain_ids_with_prefix("acme", "abc") == ["abc-123"]
    assert store.chain_ids_with_prefix("acme", "x") == []
    assert store.chain_ids_with_prefix("globex", "ab") == []
    assert store.get_chain("globex", "abc-123") is None
    assert store.find_chain("acme", github_repo="o/r", github_issue_number=7) == created
    assert store.find_chain("acme", github_repo="o/r", github_issue_number=8) is None
    assert store.find_chain("globex", github_repo="o/r", github_issue_number=7) is None


def test_delete_cascades_to_stages_and_entries(store: Store) -> None:
    store.create_chain("acme", chain("c1"))
    store.create_stage("acme", stage("s1", "c1"))
    metrics(store, "acme", "s1", "k1", cost=1.0)
    assert not store.delete_chain("globex", "c1")
    assert store.delete_chain("acme", "c1")
    assert store.get_chain("acme", "c1") is None and store.get_stage("acme", "s1") is None
    assert not store.delete_chain("acme", "c1")
    # the ids are free again: nothing of the old chain is left over
    store.create_chain("acme", chain("c1"))
    again = store.create_stage("acme", stage("s1", "c1"))
    assert again is not None and again.stage_number == 1 and again.cost == 0


def test_lookup_by_message_task_and_source(store: Store) -> None:
    store.create_chain("acme", chain("old", at=T0))
    store.create_chain("acme", chain("new", at=T0 + timedelta(minutes=1)))
    store.create_chain("acme", chain("from-msg", source_type="message", source_ref="m-src"))
    store.create_stage("acme", stage("s-old", "old", task_id="t1", message_id="m1"))
    store.create_stage("acme", stage("s-new", "new", task_id="t1"))
    found = store.find_chain("acme", task_id="t1")
    assert found is not None and found.id == "new"  # the newest chain with the task
    found = store.find_chain("acme", message_id="m1")
    assert found is not None and found.id == "old"
    found = store.find_chain("acme", message_id="m-src")
    assert found is not None and found.id == "from-msg"
    assert store.find_chain("acme", task_id="nope") is None
    assert store.find_chain("globex", task_id="t1") is None


def test_list_filters_summaries_and_agent_flow(store: Store) -> None:
    store.create_chain("acme", chain("c1", at=T0, workspace_id="w1", github_repo="o/r"))
    store.create_chain("acme", chain("c2", at=T0 + timedelta(minutes=1), source_type="eval_suite"))
    for i, agent in enumerate(("design-doc-creator", "sprint-planner", "sprint-executor")):
        store.create_stage("acme", stage(f"s{i}", "c1", agent))
    status(store, "acme", "s0", "completed")
    [s1, s2] = store.list_chains("acme", ChainQuery())
    assert (s1.id, s2.id) == ("c2", "c1")  # newest first
    assert (s2.stage_count, s2.max_stage, s2.current_stage, s2.stages_completed) == (3, 3, 3, 1)
    assert s2.agent_flow == "design-doc-creator -> sprint-planner -> sprint-executor"
    assert (s1.stage_count, s1.max_stage, s1.agent_flow) == (0, 0, "")

    def ids(**kw: Any) -> list[str]:
        return [c.id for c in store.list_chains("acme", ChainQuery(**kw))]

    assert ids(agent_id="sprint-planner") == ["c1"]
    assert ids(source_type="eval_suite") == ["c2"]
    assert ids(workspace_id="w1") == ids(github_repo="o/r") == ["c1"]
    assert ids(status="active") == ["c2", "c1"]
    assert ids(created_after=T0 + timedelta(seconds=30)) == ["c2"]
    assert ids(limit=1, offset=1) == ["c1"]
    assert store.list_chains("globex", ChainQuery()) == []


# -- stages --------------------------------------------------------------------------------------------------

def test_stage_numbers_follow_and_current_stage_tracks_them(store: Store) -> None:
    store.create_chain("acme", chain("c1"))
    first = store.create_stage("acme", stage("s1", "c1", provider="anthropic", iteration=1))
    second = store.create_stage("acme", stage("s2", "c1", handoff_to="reviewer"))
    assert first is not None and second is not None
    assert (first.stage_number, second.stage_number) == (1, 2)
    assert second.handoff_to == "reviewer" and first.provider == "anthropic"
    got = store.get_chain("acme", "c1")
    assert got is not None and got.current_stage == 2
    assert [s.id for s in store.list_stages("acme", "c1")] == ["s1", "s2"]
    with pytest.raises(DuplicateId):
        store.create_stage("acme", stage("s1", "c1"))
    assert store.create_stage("acme", stage("s9", "missing")) is None
    assert store.create_stage("globex", stage("s9", "c1")) is None  # another org's chain does not exist
    assert store.get_stage("globex", "s1") is None


def test_concurrent_stage_creation_gets_distinct_numbers(store: Store) -> None:
    store.create_chain("acme", chain("c1"))
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(5):
                store.create_stage("acme", stage(f"s-{t}-{i}", "c1", agent=f"agent-{t}"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    numbers = sorted(s.stage_number for s in store.list_stages("acme", "c1"))
    assert numbers == list(range(1, 41))
    got = store.get_chain("acme", "c1")
    assert got is not None and got.current_stage == 40


def test_a_refusing_check_creates_nothing(store: Store) -> None:
    store.create_chain("acme", chain("c1", status="completed"))
    with pytest.raises(Conflict):
        store.create_stage("acme", stage("s1", "c1"), rules.check_chain_open)
    assert store.get_stage("acme", "s1") is None and store.list_stages("acme", "c1") == []


def test_status_timestamps_and_stages_completed_are_derived(store: Store) -> None:
    store.create_chain("acme", chain("c1"))
    store.create_stage("acme", stage("s1", "c1"))
    store.create_stage("acme", stage("s2", "c1"))
    running = status(store, "acme", "s1", "running")
    assert running.started_at == NOW and running.completed_at is None
    done = status(store, "acme", "s1", "completed")
    assert done.started_at == NOW and done.completed_at == NOW
    status(store, "acme", "s2", "failed")
    got = store.get_chain("acme", "c1")
    assert got is not None and got.stages_completed == 1
    # setting the status a stage already has changes nothing, however often
    again = store.change_stage("acme", "s1", lambda st, _: rules.stage_status(st, "completed", NOW))
    assert again is not None and not again.applied
    after = store.get_chain("acme", "c1")
    assert after is not None and after.stages_completed == 1


@pytest.mark.parametrize(("start", "to", "error"), [
    ("completed", "running", Conflict), ("failed", "completed", Conflict), ("running", "pending", Conflict),
    ("pending", "awaiting_approval", BadParameter),
])
def test_invalid_stage_transitions_change_nothing(store: Store, start: str, to: str, error: type) -> None:
    store.create_chain("acme", chain("c1"))
    store.create_stage("acme", stage("s1", "c1"))
    if start != "pending":
        status(store, "acme", "s1", start)
    before = store.get_stage("acme", "s1")
    with pytest.raises(error):
        store.change_stage("acme", "s1", lambda st, _: rules.stage_status(st, to, NOW))
    assert store.get_stage("acme", "s1") == before


# -- approvals -------------------------------------------------------------------------------------------------

def test_approval_flow_drives_stage_and_chain_status_and_appends_events(store: Store) -> None:
    store.create_chain("acme", chain("c1", workspace_id="w1"))
    store.create_stage("acme", stage("s1", "c1", agent="design-doc-creator", task_id="t1"))
    store.create_stage("acme", stage("s2", "c1", agent="sprint-planner"))
    asked = approve(store, "acme", "s1", "pending", "merge")
    assert (asked.status, asked.approval_status, asked.approval_type) == ("awaiting_approval", "pending", "merge")
    approve(store, "acme", "s2", "pending", "handoff")
    c = store.get_chain("acme", "c1")
    assert c is not None and c.status == "pending_approval"
    done = approve(store, "acme", "s1", "approved", feedback="looks good")
    assert (done.status, done.approval_status, done.human_feedback) == ("completed", "approved", "looks good")
    assert done.completed_at == NOW
    c = store.get_chain("acme", "c1")
    assert c is not None and c.status == "pending_approval" and c.stages_completed == 1  # s2 still awaits
    rejected = approve(store, "acme", "s2", "rejected", "handoff", "redo the plan")
    assert (rejected.status, rejected.approval_status) == ("failed", "rejected")
    c = store.get_chain("acme", "c1")
    assert c is not None and c.status == "active"

    requested = events(store, "acme", APPROVAL_REQUESTED)
    decided = events(store, "acme", APPROVAL_DECISION)
    assert [e.subject_id for e in requested] == ["s1", "s2"]
    assert [(e.subject_id, e.data["approval_status"]) for e in decided] == [("s1", "approved"), ("s2", "rejected")]
    assert requested[0].data == {"chain_id": "c1", "stage_number": 1, "approval_status": "pending",
                                 "approval_type": "merge", "agent_id": "design-doc-creator"}
    assert (requested[0].workspace_id, requested[0].task_id) == ("w1", "t1")
    assert all("feedback" not in str(e.data) for e in decided)
    assert events(store, "globex") == []


def test_a_resent_decision_is_a_no_op_and_a_different_one_conflicts(store: Store) -> None:
    store.create_chain("acme", chain("c1"))
    store.create_stage("acme", stage("s1", "c1"))
    approve(store, "acme", "s1", "pending")
    approve(store, "acme", "s1", "pending")  # resent request: no second event
    approve(store, "acme", "s1", "approved")
    before = store.get_stage("acme", "s1")
    assert approve(store, "acme", "s1", "approved") == before
    with pytest.raises(Conflict):
        approve(store, "acme", "s1", "rejected")
    with pytest.raises(Conflict):
        approve(store, "acme", "s1", "pending")
    assert store.get_stage("acme", "s1") == before
    assert len(events(store, "acme", APPROVAL_REQUESTED)) == 1
    assert len(events(store, "acme", APPROVAL_DECISION)) == 1


def test_deciding_a_stage_that_does_not_await_approval_conflicts(store: Store) -> None:
    store.create_chain("acme", chain("c1"))
    store.create_stage("acme", stage("s1", "c1"))
    store.create_stage("acme", stage("s2", "c1"))
    status(store, "acme", "s2", "completed")
    for sid in ("s1", "s2"):
        with pytest.raises(Conflict):
            approve(store, "acme", sid, "approved")
    with pytest.raises(Conflict):
        approve(store, "acme", "s2", "pending")
    approve(store, "acme", "s1", "pending")
    with pytest.raises(Conflict):  # an awaiting stage is decided through its approval, not its status
        status(store, "acme", "s1", "completed")
    assert events(store, "acme", APPROVAL_DECISION) == []


def test_a_final_chain_keeps_its_status_through_approvals(store: Store) -> None:
    store.create_chain("acme", chain("c1"))
    store.create_stage("acme", stage("s1", "c1"))
    out = store.change_chain("acme", "c1", lambda c: rules.chain_status(c, "failed", NOW))
    assert out is not None and out.chain.completed_at == NOW
    approve(store, "acme", "s1", "pending")
    got = store.get_chain("acme", "c1")
    assert got is not None and got.status == "failed"
    with pytest.raises(Conflict):
        store.change_chain("acme", "c1", lambda c: rules.chain_status(c, "active", NOW))


# -- metrics, errors: derived, idempotent ------------------------------------------------------------------

def test_metric_entries_apply_once_per_key_and_totals_are_sums(store: Store) -> None:
    store.create_chain("acme", chain("c1"))
    store.create_stage("acme", stage("s1", "c1"))
    store.create_stage("acme", stage("s2", "c1"))
    s1, applied = metrics(store, "acme", "s1", "k1", cost=0.5, tokens_in=100, tokens_out=20, turns=2, tool_calls=3,
                          duration_ms=1000)
    assert applied and (s1.cost, s1.tokens_in, s1.tokens_out, s1.turns, s1.tool_calls, s1.duration_ms) == (
        0.5, 100, 20, 2, 3, 1000)
    again, applied = metrics(store, "acme", "s1", "k1", cost=0.5, tokens_in=100, tokens_out=20, turns=2,
                             tool_calls=3, duration_ms=1000)
    assert not applied and again == s1
    with pytest.raises(IdempotencyConflict):
        metrics(store, "acme", "s1", "k1", cost=9.0)
    metrics(store, "acme", "s1", "k2", cost=0.25, tokens_in=1)
    metrics(store, "acme", "s2", "k1", cost=1.0, tokens_out=5, turns=1)  # keys are per stage
    body = ChainMetricsAdd(cost=2.0, tokens=1000, turns=4)
    out = store.change_chain("acme", "c1", lambda c: rules.chain_metrics(c, body, "k1"))
    assert out is not None and out.applied
    replay = store.change_chain("acme", "c1", lambda c: rules.chain_metrics(c, body, "k1"))
    assert replay is not None and not replay.applied
    c = store.get_chain("acme", "c1")
    assert c is not None
    assert (c.total_cost, c.total_tokens, c.total_turns) == (0.5 + 0.25 + 1.0 + 2.0, 100 + 20 + 1 + 5 + 1000,
                                                           2 + 1 + 4)
    s = store.get_stage("acme", "s1")
    assert s is not None and (s.cost, s.tokens_in) == (0.75, 101)
    assert len(events(store, "acme", METRICS_UPDATED)) == 4  # replays append nothing


def test_errors_are_counted_and_fail_the_stage(store: Store) -> None:
    store.create_chain("acme", chain("c1"))
    store.create_stage("acme", stage("s1", "c1"))
    store.create_stage("acme", stage("s2", "c1"))

    def err(sid: str, msg: str, key: str) -> Any:
        return store.change_stage("acme", sid, lambda st, _: rules.stage_error(st, msg, key, NOW))

    first = err("s1", "boom\nstack", "e1")
    assert first is not None and first.applied
    assert (first.stage.status, first.stage.error_count, first.stage.error_message) == ("failed", 1, "boom\nstack")
    assert first.stage.completed_at == NOW
    replay = err("s1", "boom\nstack", "e1")
    assert replay is not None and not replay.applied and replay.stage.error_count == 1
    with pytest.raises(IdempotencyConflict):
        err("s1", "other", "e1")
    second = err("s1", "again", "e2")
    assert second is not None and (second.stage.error_count, second.stage.error_message) == (2, "again")
    status(store, "acme", "s2", "completed")
    with pytest.raises(Conflict):
        err("s2", "late", "e3")
    s2 = store.get_stage("acme", "s2")
    assert s2 is not None and (s2.status, s2.error_count) == ("completed", 0)


def test_a_failing_decision_rolls_back_everything(store: Store) -> None:
    store.create_chain("acme", chain("c1"))
    store.create_stage("acme", stage("s1", "c1"))
    before = store.get_stage("acme", "s1"), store.get_chain("acme", "c1")

    def boom(st: ChainStage, ch: ExecutionChain) -> StageChange:
        raise Conflict("no")

    with pytest.raises(Conflict):
        store.change_stage("acme", "s1", boom)
    assert (store.get_stage("acme", "s1"), store.get_chain("acme", "c1")) == before
    assert store.change_stage("acme", "missing", boom) is None
    assert store.change_stage("globex", "s1", boom) is None


# -- evals, pending approvals, stats ---------------------------------------------------------------------------

def assessment(**kw: Any) -> EvalAssessment:
    base: dict[str, Any] = {"benchmark_id": "fizzbuzz", "model": "claude-sonnet-4-5", "language": "python",
                            "eval_mode": "agent", "stdout_ok": True, "seed": 42}
    return EvalAssessment(**{**base, **kw})


def test_eval_assessments_round_trip_and_filter(store: Store) -> None:
    store.create_chain("acme", chain("e1", source_type="eval_suite"))
    store.create_chain("acme", chain("e2", source_type="eval_suite"))
    specs = [("a", "e1", assessment()), ("b", "e1", assessment(language="go", stdout_ok=False, condition="x")),
             ("c", "e2", assessment(model="gpt-5", benchmark_id="json", eval_mode="standard"))]
    for i, (sid, cid, a) in enumerate(specs):
        store.create_stage("acme", stage(sid, cid, at=T0 + timedelta(seconds=i)))
        out = store.change_stage("acme", sid, lambda st, _, a=a: rules.eval_assessment(st, a))  # type: ignore[misc]
        assert out is not None and out.stage.eval_assessment == a
    store.create_stage("acme", stage("no-eval", "e2"))
    got = store.get_stage("acme", "b")
    assert got is not None and got.eval_assessment == specs[1][2]

    def ids(**kw: Any) -> list[str]:
        return [s.id for s in store.query_evals("acme", EvalQuery(**kw))]

    assert ids() == ["c", "b", "a"]
    assert ids(chain_id="e1") == ["b", "a"]
    assert ids(model="gpt-5") == ids(benchmark_id="json") == ids(eval_mode="standard") == ["c"]
    assert ids(language="go") == ids(condition="x") == ids(failure_only=True) == ["b"]
    assert ids(success_only=True) == ["c", "a"]
    assert ids(limit=1, offset=1) == ["b"]
    assert store.query_evals("globex", EvalQuery()) == []


def test_pending_approvals_oldest_first_with_chain_source(store: Store) -> None:
    store.create_chain("acme", chain("c1", source_type="github_issue", source_ref="o/r#1"))
    store.create_stage("acme", stage("late", "c1", at=T0 + timedelta(minutes=5)))
    store.create_stage("acme", stage("early", "c1", agent="planner", task_id="t1", at=T0))
    metrics(store, "acme", "early", "k", cost=0.3, turns=4)
    approve(store, "acme", "late", "pending")
    approve(store, "acme", "early", "pending", "handoff")
    pending = store.pending_approvals("acme", 50, 0)
    assert [p.stage_id for p in pending] == ["early", "late"]
    p = pending[0]
    assert (p.chain_id, p.source_type, p.source_ref, p.stage_number, p.agent_id, p.approval_status,
            p.approval_type, p.task_id, p.cost, p.turns, p.stage_created) == (
        "c1", "github_issue", "o/r#1", 2, "planner", "pending", "handoff", "t1", 0.3, 4, T0)
    assert [p.stage_id for p in store.pending_approvals("acme", 1, 1)] == ["late"]
    approve(store, "acme", "early", "approved")
    assert [p.stage_id for p in store.pending_approvals("acme", 50, 0)] == ["late"]
    assert store.pending_approvals("globex", 50, 0) == []


def test_stats_counts_and_agents_in_one_pass_each(store: Store) -> None:
    store.create_chain("acme", chain("c1", at=T0))
    store.create_chain("acme", chain("c2", at=T0 + timedelta(days=1)))
    store.create_chain("acme", chain("c3", at=T0 + timedelta(days=2)))
    for sid, cid, agent in (("a", "c1", "coder"), ("b", "c1", "reviewer"), ("c", "c2", "coder"), ("d", "c3", "x")):
        store.create_stage("acme", stage(sid, cid, agent))
    metrics(store, "acme", "a", "k", cost=1.0, tokens_in=10, tokens_out=5)
    metrics(store, "acme", "c", "k", cost=2.0, tokens_in=1, tokens_out=1)
    status(store, "acme", "a", "completed")
    status(store, "acme", "c", "failed")
    approve(store, "acme", "d", "pending")
    store.change_chain("acme", "c1", lambda c: rules.chain_status(c, "completed", T0 + timedelta(seconds=10)))
    store.change_chain("acme", "c2", lambda c: rules.chain_status(c, "failed", T0 + timedelta(days=1, seconds=2)))

    stats = store.chain_stats("acme", None)
    assert (stats.total_chains, stats.active_chains, stats.pending_approvals, stats.completed_chains,
            stats.failed_chains) == (3, 0, 1, 1, 1)
    assert (stats.total_cost, stats.total_tokens) == (3.0, 17)
    assert stats.average_stages_count == pytest.approx(4 / 3)
    assert stats.average_duration_ms == pytest.approx((10_000 + 2_000) / 2)
    counts = store.chain_status_counts("acme", None)
    assert (counts.total_chains, counts.completed, counts.active, counts.pending_approval, counts.failed,
            counts.total_cost, counts.total_tokens) == (3, 1, 0, 1, 1, 3.0, 17)
    later = store.chain_status_counts("acme", T0 + timedelta(hours=1))
    assert (later.total_chains, later.failed, later.pending_approval) == (2, 1, 1)
    agents = store.chain_stats_by_agent("acme", None)
    assert [(a.agent_id, a.stages, a.completed, a.failed, a.total_cost, a.total_tokens_in, a.total_tokens_out)
            for a in agents] == [("coder", 2, 1, 1, 3.0, 11, 6), ("reviewer", 1, 0, 0, 0.0, 0, 0),
                                 ("x", 1, 0, 0, 0.0, 0, 0)]
    assert [a.agent_id for a in store.chain_stats_by_agent("acme", T0 + timedelta(hours=1))] == ["coder", "x"]
    empty = store.chain_stats("globex", None)
    assert (empty.total_chains, empty.average_stages_count, empty.pending_approvals) == (0, 0, 0)
    assert store.chain_stats_by_agent("globex", None) == []


# -- spans -----------------------------------------------------------------------------------------------------

def test_spans_link_to_stages_and_page(store: Store) -> None:
    store.create_chain("acme", chain("c1"))
    store.create_stage("acme", stage("s1", "c1"))
    req = trace_request(4, attrs={"chain_id": "c1", "stage_id": "s1"})
    _contract.service(store).ingest("acme", "traces", req, "d1")
    other = trace_request(1)
    _contract.service(store).ingest("acme", "traces", other, "d2")
    spans, total = store.stage_spans("acme", "s1", 2, 0)
    assert total == 4 and len(spans) == 2 and all(s.chain_id == "c1" and s.stage_id == "s1" for s in spans)
    rest, _ = store.stage_spans("acme", "s1", 10, 2)
    assert len(rest) == 2 and {s.id for s in spans}.isdisjoint(s.id for s in rest)
    assert spans[0].start_time <= spans[1].start_time <= rest[0].start_time
    assert store.stage_spans("globex", "s1", 10, 0) == ([], 0)

    lone = other.resource_spans[0].scope_spans[0].spans[0]
    trace_id, span_id = lone.trace_id.hex(), lone.span_id.hex()
    assert store.link_span("acme", trace_id, span_id, "c1", "s1")
    assert not store.link_span("globex", trace_id, span_id, "c1", "s1")
    assert not store.link_span("acme", trace_id, "0" * 16, "c1", "s1")
    assert store.stage_spans("acme", "s1", 10, 0)[1] == 5
    [linked] = [s for s in store.list_spans("acme", SpanQuery(trace_id=trace_id))]
    assert (linked.chain_id, linked.stage_id) == ("c1", "s1")
    assert store.link_span("acme", trace_id, span_id, "c1", None)
    assert store.stage_spans("acme", "s1", 10, 0)[1] == 4
