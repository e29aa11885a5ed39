"""Pydantic models of the catalog area: entities (the seed's JSON field names), request bodies, list queries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from core.models import PageQuery

TaskStatus = Literal["pending", "running", "completed", "failed"]
TaskSourceType = Literal["github_issue", "message", "email", "manual"]
AssignmentStatus = Literal["pending", "running", "completed", "failed"]
MessageStatus = Literal["unread", "read", "archived"]

# Ids travel in URL paths: URL-safe characters only, bounded.
Id = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@+=~-]*$")]
_MIN_TIME = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_TIME = datetime(2262, 1, 1, tzinfo=UTC)  # the store keeps int64 nanoseconds


def _storable(value: datetime) -> datetime:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if not _MIN_TIME <= aware < _MAX_TIME:
        raise ValueError("must be between 1970-01-01 and 2262-01-01")
    return aware


# A client-supplied timestamp (a naive one is taken as UTC).
Timestamp = Annotated[datetime, AfterValidator(_storable)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=1000)]


# -- entities ------------------------------------------------------------------------------------------------

class Workspace(BaseModel):
    """A git repository or project root."""

    id: str
    name: str
    path: str = ""
    git_remote: str | None = None
    created_at: datetime
    updated_at: datetime


class WorkspaceStats(BaseModel):
    """Aggregates of a workspace's tasks (the seed's workspace_stats view)."""

    id: str
    name: str
    path: str = ""
    task_count: int = 0
    total_cost: float = 0
    total_tokens: int = 0
    success_rate: float = 0
    unique_agents: int = 0
    last_activity: datetime | None = None


class Task(BaseModel):
    """A unit of work (from a GitHub issue, a message, an email or by hand) with totals over its spans."""

    id: str
    workspace_id: str | None = None
    parent_task_id: str | None = None
    title: str
    description: str | None = None
    source_type: TaskSourceType = "manual"
    source_ref: str | None = None
    status: TaskStatus = "pending"
    priority: str = "normal"
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    total_duration_ms: int = 0
    total_tokens_in: int = 0
    total_tokens_out: int = 0
    total_cost_usd: float = 0
    agent_count: int = 0
    span_count: int = 0
    error_count: int = 0


class AgentAssignment(BaseModel):
    """A coordinator -> agent delegation on a task, with totals over its spans."""

    id: str
    task_id: str
    agent_id: str
    provider: str = ""
    status: AssignmentStatus = "pending"
    assigned_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    parent_assignment_id: str | None = None
    duration_ms: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0
    tool_calls: int = 0
    turns: int = 0


class AgentStats(BaseModel):
    """Totals of one agent over all its assignments (the seed's agent_stats view)."""

    agent_id: str
    provider: str = ""
    execution_count: int = 0
    total_duration_ms: int = 0
    avg_duration_ms: float = 0
    total_tokens_in: int = 0
    total_tokens_out: int = 0
    total_cost: float = 0
    total_tool_calls: int = 0
    success_rate: float = 0


class Message(BaseModel):
    """An agent-to-agent (or human-to-agent) inbox message."""

    id: str
    task_id: str | None = None
    inbox: str
    from_agent: str = ""
    title: str = ""
    content: str = ""
    message_type: str = "message"
    status: MessageStatus = "unread"
    priority: str = "normal"
    github_issue_number: int | None = None
    github_repo: str | None = None
    correlation_id: str | None = None
    reply_to_id: str | None = None
    created_at: datetime
    read_at: datetime | None = None
    archived_at: datetime | None = None
    content_hash: str | None = None


class TimelineEntry(BaseModel):
    """One row of a task's timeline (the seed's TaskTimeline): the task and one of its spans, by start time.

    A task without spans has one entry with the span fields empty (the seed view's left join)."""

    task_id: str
    title: str
    status: TaskStatus
    span_id: str | None = None
    trace_id: str | None = None
    span_name: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    duration_ms: int | None = None
    span_status: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost_usd: float | None = None
    provider: str | None = None


# -- request bodies ------------------------------------------------------------------------------------------
# Unknown fields are ignored so a GET result can be PUT back unchanged (read-only fields such as aggregates
# and created_at are simply not in the update bodies).

class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)



class WorkspaceCreate(_Body):
    id: Id | None = None
    name: Text
    path: str = ""
    git_remote: str | None = None
    created_at: Timestamp | None = None


class WorkspaceUpdate(_Body):
    """Only the fields present change; null clears a nullable field (and is ignored for the others)."""

    name: Text | None = None
    path: str | None = None
    git_remote: str | None = None


class TaskCreate(_Body):
    id: Id | None = None
    workspace_id: Id | None = None
    parent_task_id: Id | None = None
    title: Text
    description: str | None = None
    source_type: TaskSourceType = "manual"
    source_ref: str | None = None
    status: TaskStatus = "pending"
    priority: str = "normal"
    created_at: Timestamp | None = None
    started_at: Timestamp | None = None
    completed_at: Timestamp | None = None


class TaskUpdate(_Body):
    """Only the fields present change; null clears a nullable field (and is ignored for the others)."""

    workspace_id: Id | None = None
    parent_task_id: Id | None = None
    title: Text | None = None
    description: str | None = None
    source_type: TaskSourceType | None = None
    source_ref: str | None = None
    status: TaskStatus | None = None
    priority: str | None = None
    started_at: Timestamp | None = None
    completed_at: Timestamp | None = None


class AssignmentCreate(_Body):
    id: Id | None = None
    task_id: Id
    agent_id: Text
    provider: str = ""
    status: AssignmentStatus = "pending"
    assigned_at: Timestamp | None = None
    started_at: Timestamp | None = None
    completed_at: Timestamp | None = None
    parent_assignment_id: Id | None = None


class AssignmentUpdate(_Body):
    """Only the fields present change; null clears a nullable field (and is ignored for the others).
    An assignment stays on its task: ``task_id`` is not updatable."""

    agent_id: Text | None = None
    provider: str | None = None
    status: AssignmentStatus | None = None
    started_at: Timestamp | None = None
    completed_at: Timestamp | None = None
    parent_assignment_id: Id | None = None


class MessageCreate(_Body):
    id: Id | None = None
    task_id: Id | None = None
    inbox: Text
    from_agent: str = ""
    title: str = ""
    content: str = ""
    message_type: str = "message"
    status: MessageStatus = "unread"
    priority: str = "normal"
    github_issue_number: int | None = Field(None, ge=0, le=2**31 - 1)
    github_repo: str | None = None
    correlation_id: str | None = None
    reply_to_id: Id | None = None
    created_at: Timestamp | None = None


class MessageUpdate(_Body):
    """Only the fields present change; null clears a nullable field (and is ignored for the others)."""

    task_id: Id | None = None
    inbox: Text | None = None
    from_agent: str | None = None
    title: str | None = None
    content: str | None = None
    message_type: str | None = None
    status: MessageStatus | None = None
    priority: str | None = None
    github_issue_number: int | None = Field(None, ge=0, le=2**31 - 1)
    github_repo: str | None = None
    correlation_id: str | None = None
    reply_to_id: Id | None = None


# -- list queries ----------------------------------------------------------------------------------------------

class WorkspaceQuery(PageQuery):
    pass


class TaskQuery(PageQuery):
    workspace_id: str | None = None
    status: TaskStatus | None = None
    source_type: TaskSourceType | None = None
    parent_task_id: str | None = None


class MessageQuery(PageQuery):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)
    inbox: str | None = None
    status: MessageStatus | None = None
    from_agent: str | None = Field(None, alias="from")
    task_id: str | None = None


class TimelineQuery(PageQuery):
    limit: int = Field(1000, ge=1)  # a timeline is read whole unless the task is huge


# -- list envelopes ------------------------------------------------------------------------------------------

class WorkspaceList(BaseModel):
    workspaces: list[Workspace]
    count: int
    limit: int
    offset: int


class TaskList(BaseModel):
    tasks: list[Task]
    count: int
    limit: int
    offset: int


class AssignmentList(BaseModel):
    agents: list[AgentAssignment]
    count: int


class TimelineList(BaseModel):
    task_id: str
    timeline: list[TimelineEntry]
    count: int
    limit: int
    offset: int


class MessageList(BaseModel):
    messages: list[Message]
    count: int
    limit: int
    offset: int
