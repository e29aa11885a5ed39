"""Change events: what the event log records for every state change (read by GET /api/observatory/events)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One state change. ``subject_id``: the changed entity (span batch digest, task, message, assignment,
    stage, session); ``data``: a small JSON-able summary (never content such as prompts or tool inputs)."""

    type: str
    subject_id: str | None = None
    workspace_id: str | None = None
    task_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
