"""The state rules of chains and stages: each function decides a change from the current entity (or refuses).

Stage life cycle: pending -> running -> completed | failed; pending or running -> awaiting_approval (an approval
request) -> completed (approved) | failed (rejected). completed and failed are final. Setting a status an entity
already has, or resending a decision already taken, changes nothing (PUT is idempotent). A chain is active,
pending_approval (derived from its stages, see core.ports.chains) or final: completed | failed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.chains.models import (
    ChainMetricsAdd,
    ChainStage,
    ChainStatus,
    EvalAssessment,
    ExecutionChain,
    StageApproval,
    StageMetricsAdd,
    StageStatus,
)
from core.errors import BadParameter, Conflict
from core.events import APPROVAL_DECISION, APPROVAL_REQUESTED, METRICS_UPDATED, ChangeEvent
from core.ports.chain_records import ChainChange, ErrorEntry, MetricEntry, StageChange

FINAL = frozenset({"completed", "failed"})


def stage_event(kind: str, stage: ChainStage, chain: ExecutionChain, fields: dict[str, Any] | None = None
                ) -> ChangeEvent:
    """An event about a stage: its identity and approval state after the change (never the feedback text)."""
    after = {**stage.model_dump(include={"approval_status", "approval_type"}), **(fields or {})}
    return ChangeEvent(kind, subject_id=stage.id, workspace_id=chain.workspace_id, task_id=stage.task_id, data={
        "chain_id": chain.id, "stage_number": stage.stage_number, "approval_status": after["approval_status"],
        "approval_type": after["approval_type"], "agent_id": stage.agent_id,
    })


def check_chain_open(chain: ExecutionChain) -> None:
    """New stages only go on a chain that is not final."""
    if chain.status in FINAL:
        raise Conflict(f"chain {chain.id} is {chain.status}: no stage can be added to it")


def stage_status(stage: ChainStage, status: StageStatus, now: datetime) -> StageChange:
    if status == "awaiting_approval":
        raise BadParameter("invalid field 'status': a stage awaits approval through PUT /stages/{id}/approval "
                           "with approval_status 'pending'")
    if stage.status == status:
        return StageChange()
    if stage.status in FINAL:
        raise Conflict(f"stage {stage.id} is {stage.status}: its status can no longer change")
    if stage.status == "awaiting_approval":
        raise Conflict(f"stage {stage.id} awaits approval: decide it with PUT /stages/{{id}}/approval")
    if status == "pending":
        raise Conflict(f"stage {stage.id} is {stage.status}: it cannot go back to pending")
    fields: dict[str, Any] = {"status": status}
    if status == "running" and stage.started_at is None:
        fields["started_at"] = now
    if status in FINAL:
        fields["completed_at"] = now
    return StageChange(fields)


def approval(stage: ChainStage, chain: ExecutionChain, body: StageApproval, now: datetime) -> StageChange:
    """pending: the stage awaits approval (approval.requested); approved: it completes, rejected: it fails
    (approval.decision). A decision needs a stage that awaits approval."""
    feedback = body.human_feedback if body.human_feedback is not None else body.feedback
    fields: dict[str, Any] = {}
    if body.approval_type is not None and body.approval_type != stage.approval_type:
        fields["approval_type"] = body.approval_type
    if feedback is not None and feedback != stage.human_feedback:
        fields["human_feedback"] = feedback
    if body.approval_status == "pending":
        if stage.status == "awaiting_approval":  # a resent request: only its details may change
            return StageChange(fields)
        if stage.status in FINAL:
            raise Conflict(f"stage {stage.id} is {stage.status}: approval can no longer be requested")
        fields.update(status="awaiting_approval", approval_status="pending")
        return StageChange(fields, events=[stage_event(APPROVAL_REQUESTED, stage, chain, fields)])
    if stage.status != "awaiting_approval":
        if stage.approval_status == body.approval_status and stage.status in FINAL and not fields:
            return StageChange()  # the same decision resent
        raise Conflict(f"stage {stage.id} is {stage.status}, not awaiting approval: it cannot be "
                       f"{body.approval_status}")
    fields.update(approval_status=body.approval_status, completed_at=now,
                  status="completed" if body.approval_status == "approved" else "failed")
    return StageChange(fields, events=[stage_event(APPROVAL_DECISION, stage, chain, fields)])


def stage_error(stage: ChainStage, message: str, key: str, now: datetime) -> StageChange:
    """Record an error: the stage fails (a completed stage refuses)."""
    if stage.status == "completed":
        raise Conflict(f"stage {stage.id} is completed: an error can no longer be recorded on it")
    fields: dict[str, Any] = {"status": "failed", "error_message": message}
    if stage.completed_at is None:
        fields["completed_at"] = now
    return StageChange(fields, error=ErrorEntry(key, message))


def stage_metrics(stage: ChainStage, chain: ExecutionChain, body: StageMetricsAdd, key: str) -> StageChange:
    entry = MetricEntry(key, cost=body.cost, tokens_in=body.tokens_in, tokens_out=body.tokens_out,
                        turns=body.turns, tool_calls=body.tool_calls, duration_ms=body.duration_ms)
    return StageChange(metric=entry, events=[stage_event(METRICS_UPDATED, stage, chain)])


def stage_session(stage: ChainStage, session_id: str) -> StageChange:
    return StageChange({"session_id": session_id} if stage.session_id != session_id else {})


def eval_assessment(stage: ChainStage, assessment: EvalAssessment) -> StageChange:
    return StageChange({"eval_assessment": assessment} if stage.eval_assessment != assessment else {})


def chain_status(chain: ExecutionChain, status: ChainStatus, now: datetime) -> ChainChange:
    if chain.status == status:
        return ChainChange()
    if chain.status in FINAL:
        raise Conflict(f"chain {chain.id} is {chain.status}: its status can no longer change")
    fields: dict[str, Any] = {"status": status}
    if status in FINAL:
        fields["completed_at"] = now
    return ChainChange(fields)


def chain_metrics(chain: ExecutionChain, body: ChainMetricsAdd, key: str) -> ChainChange:
    event = ChangeEvent(METRICS_UPDATED, subject_id=chain.id, workspace_id=chain.workspace_id, data={
        "chain_id": chain.id, "stage_number": None, "approval_status": None, "approval_type": None,
        "agent_id": None})
    return ChainChange(metric=MetricEntry(key, cost=body.cost, tokens=body.tokens, turns=body.turns),
                       events=[event])
