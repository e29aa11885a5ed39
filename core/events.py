"""Change events: what the event log records for every state change (read by GET /api/observatory/events)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # pydantic models stay out of the ingest cold start
    from core.catalog.models import AgentAssignment, Message, Task
    from core.records import Batch, SpanRecord

SPAN_CREATED = "span.created"
SPAN_UPDATED = "span.updated"
TASK_CREATED = "task.created"
TASK_UPDATED = "task.updated"
TASK_COMPLETED = "task.completed"
MESSAGE_CREATED = "message.created"
MESSAGE_READ = "message.read"
AGENT_ASSIGNED = "agent.assigned"
AGENT_COMPLETED = "agent.completed"
APPROVAL_REQUESTED = "approval.requested"
APPROVAL_DECISION = "approval.decision"
METRICS_UPDATED = "metrics.updated"
EVENT_TYPES = (SPAN_CREATED, SPAN_UPDATED, TASK_CREATED, TASK_UPDATED, TASK_COMPLETED, MESSAGE_CREATED,
               MESSAGE_READ, AGENT_ASSIGNED, AGENT_COMPLETED, APPROVAL_REQUESTED, APPROVAL_DECISION, METRICS_UPDATED)

# Statuses that end a task or an assignment: reaching one emits task.completed / agent.completed.
FINISHED = frozenset({"completed", "failed"})
# A batch event names at most this many traces, sessions and tasks (its counts say how many there were).
MAX_IDS = 50


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One state change. ``subject_id``: the changed entity (span batch digest, task, message, assignment,
    stage, session); ``data``: a small JSON-able summary (never content such as prompts or tool inputs)."""

    type: str
    subject_id: str | None = None
    workspace_id: str | None = None
    task_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


class Row(Protocol):
    """A stored row read by column name (sqlite3.Row, a dict)."""

    def __getitem__(self, key: str, /) -> Any: ...


def _ids(values: Iterable[str | None]) -> list[str]:
    return sorted({v for v in values if v})[:MAX_IDS]


# -- catalog -----------------------------------------------------------------------------------------------------
# Titles of tasks are their names; descriptions, message titles and contents are content and never copied.

def _task_data(task: Task) -> dict[str, Any]:
    return {"title": task.title, "status": task.status, "priority": task.priority,
            "source_type": task.source_type, "parent_task_id": task.parent_task_id}


def task_created(task: Task) -> list[ChangeEvent]:
    return [ChangeEvent(TASK_CREATED, task.id, task.workspace_id, task.id, _task_data(task))]


def task_changed(before_status: str, task: Task) -> list[ChangeEvent]:
    """task.updated for every update, plus task.completed when the update finished the task."""
    data = _task_data(task) | {"previous_status": before_status}
    events = [ChangeEvent(TASK_UPDATED, task.id, task.workspace_id, task.id, data)]
    if task.status in FINISHED and before_status not in FINISHED:
        events.append(ChangeEvent(TASK_COMPLETED, task.id, task.workspace_id, task.id, data))
    return events


def task_deleted(task_id: str, workspace_id: str | None) -> list[ChangeEvent]:
    return [ChangeEvent(TASK_UPDATED, task_id, workspace_id, task_id, {"deleted": True})]


def _assignment_data(a: AgentAssignment) -> dict[str, Any]:
    return {"agent_id": a.agent_id, "provider": a.provider, "status": a.status,
            "parent_assignment_id": a.parent_assignment_id}


def agent_assigned(a: AgentAssignment, workspace_id: str | None) -> list[ChangeEvent]:
    return [ChangeEvent(AGENT_ASSIGNED, a.id, workspace_id, a.task_id, _assignment_data(a))]


def agent_changed(before_status: str, a: AgentAssignment, workspace_id: str | None) -> list[ChangeEvent]:
    """agent.completed when an update finished the assignment (there is no event for other changes)."""
    if a.status in FINISHED and before_status not in FINISHED:
        data = _assignment_data(a) | {"previous_status": before_status, "duration_ms": a.duration_ms,
                                      "tokens_in": a.tokens_in, "tokens_out": a.tokens_out, "cost_usd": a.cost_usd}
        return [ChangeEvent(AGENT_COMPLETED, a.id, workspace_id, a.task_id, data)]
    return []


def _message_data(m: Message) -> dict[str, Any]:
    return {"inbox": m.inbox, "from_agent": m.from_agent, "message_type": m.message_type, "status": m.status,
            "priority": m.priority, "correlation_id": m.correlation_id, "reply_to_id": m.reply_to_id}


def message_created(m: Message, workspace_id: str | None) -> list[ChangeEvent]:
    return [ChangeEvent(MESSAGE_CREATED, m.id, workspace_id, m.task_id, _message_data(m))]


def message_changed(before_status: str, m: Message, workspace_id: str | None) -> list[ChangeEvent]:
    """message.read when a change marked an unread message read (re-reading appends nothing)."""
    if m.status == "read" and before_status == "unread":
        return [ChangeEvent(MESSAGE_READ, m.id, workspace_id, m.task_id, _message_data(m))]
    return []


# -- spans -------------------------------------------------------------------------------------------------------

def batch_spans_created(batch: Batch, request_digest: str, task_id: str | None, workspace_id: str | None
                        ) -> list[ChangeEvent]:
    """One span.created per ingested batch (none without spans), with its counts and the ids it touched; its
    subject is the request digest. ``task_id``: the one task the batch's spans name, if exactly one (so a
    task filter finds the batch)."""
    if not batch.spans:
        return []
    traces = {s.trace_id for s in batch.spans}
    sessions = {s.session_id for s in batch.spans if s.session_id}
    tasks = {s.links.task_id for s in batch.spans if s.links.task_id}
    data = {
        "counts": {"spans": len(batch.spans), "errors": sum(s.status == "error" for s in batch.spans),
                   "traces": len(traces), "sessions": len(sessions), "tasks": len(tasks),
                   "llm_calls": len(batch.llm_calls), "tool_calls": len(batch.tool_calls),
                   "events": len(batch.events), "metric_points": len(batch.metric_points)},
        "trace_ids": _ids(traces), "session_ids": _ids(sessions), "task_ids": _ids(tasks),
    }
    return [ChangeEvent(SPAN_CREATED, request_digest, workspace_id, task_id, data)]


def batch_task(batch: Batch) -> str | None:
    """The task every linked span of the batch names, when there is exactly one."""
    tasks = {s.links.task_id for s in batch.spans if s.links.task_id}
    return next(iter(tasks)) if len(tasks) == 1 else None


def _span_data(span: SpanRecord) -> dict[str, Any]:
    return {"span_id": span.span_id, "trace_id": span.trace_id, "parent_span_id": span.parent_span_id,
            "name": span.name, "status": span.status, "session_id": span.session_id,
            "agent_assignment_id": span.links.assignment_id, "model": span.usage.model,
            "duration_ms": span.duration_ms}


def span_created(span: SpanRecord, workspace_id: str | None) -> list[ChangeEvent]:
    """A span created through the API: the batch shape with a count of one."""
    data = _span_data(span) | {"counts": {"spans": 1, "errors": int(span.status == "error")}}
    return [ChangeEvent(SPAN_CREATED, span.span_id, workspace_id, span.links.task_id, data)]


def span_updated(span: SpanRecord, workspace_id: str | None, change: str) -> list[ChangeEvent]:
    """``change``: `updated` (a PUT), `event_added` or `deleted`."""
    data = _span_data(span) | {"change": change}
    return [ChangeEvent(SPAN_UPDATED, span.span_id, workspace_id, span.links.task_id, data)]


def span_row_updated(row: Row, workspace_id: str | None, change: str) -> list[ChangeEvent]:
    """span.updated from a stored span's columns (for writes that have no SpanRecord: deletes, new events)."""
    data = {"span_id": row["span_id"], "trace_id": row["trace_id"], "parent_span_id": row["parent_span_id"],
            "name": row["name"], "status": row["status"], "session_id": row["session_id"],
            "agent_assignment_id": row["assignment_id"], "model": row["model"], "duration_ms": row["duration_ms"],
            "change": change}
    return [ChangeEvent(SPAN_UPDATED, row["span_id"], workspace_id, row["task_id"], data)]


# -- aggregates --------------------------------------------------------------------------------------------------

TASK_TOTALS = ("span_count", "error_count", "agent_count", "total_duration_ms", "total_tokens_in",
               "total_tokens_out", "total_cost_usd")
SESSION_TOTALS = ("tokens_in", "tokens_out", "cache_read_tokens", "cache_creation_tokens", "reasoning_tokens",
                  "total_cost_usd", "turn_count", "tool_calls", "span_count", "error_count", "success_rate")


def task_metrics_updated(task_id: str, workspace_id: str | None, totals: Mapping[str, Any]) -> list[ChangeEvent]:
    data = {"scope": "task", **{k: totals[k] for k in TASK_TOTALS if k in totals}}
    return [ChangeEvent(METRICS_UPDATED, task_id, workspace_id, task_id, data)]


def session_metrics_updated(session_id: str, task_id: str | None, workspace_id: str | None,
                            rollup: Mapping[str, Any]) -> list[ChangeEvent]:
    data = {"scope": "session", "session_id": session_id, **{k: rollup[k] for k in SESSION_TOTALS if k in rollup}}
    return [ChangeEvent(METRICS_UPDATED, session_id, workspace_id, task_id, data)]
