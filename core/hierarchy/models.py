"""Pydantic models of span CRUD, enriched spans and the hierarchy views (the seed's JSON field names)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from core.hierarchy.names import NodeType
from core.models import MAX_LIMIT, ChatContext, Instant, PageQuery, SpanQuery, SpanStatus, SpanView

SpanKind = Literal["internal", "client", "server", "producer", "consumer"]
EventType = Literal["approval", "tool", "error", "custom"]
# Ids travel in URL paths: URL-safe characters, bounded (hex OTLP ids and the seed's "claude-<uuid>" alike).
SpanId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200,
                                          pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@+=~-]*$")]
LinkId = Annotated[str, StringConstraints(max_length=200)]


MAX_COUNT = 2**62  # token counts and the like fit SQLite's 64-bit integers
MAX_DURATION_MS = 10**12


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)


class _Params(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)


# -- span writes ---------------------------------------------------------------------------------------------

class SpanCreate(_Body):
    """A seed Span posted to create it (unknown fields such as children or created_at are ignored)."""

    id: SpanId
    trace_id: SpanId
    parent_span_id: str | None = None
    task_id: LinkId | None = None
    agent_assignment_id: LinkId | None = None
    chain_id: LinkId | None = None
    stage_id: LinkId | None = None
    message_id: LinkId | None = None
    session_id: LinkId | None = None
    name: Annotated[str, StringConstraints(min_length=1, max_length=1000)]
    kind: SpanKind = "internal"
    status: SpanStatus = "unset"
    status_message: str | None = None
    start_time: datetime
    end_time: datetime | None = None
    duration_ms: float | None = Field(None, ge=0, le=MAX_DURATION_MS)
    tokens_in: int = Field(0, ge=0, le=MAX_COUNT)
    tokens_out: int = Field(0, ge=0, le=MAX_COUNT)
    cache_read_tokens: int = Field(0, ge=0, le=MAX_COUNT)
    cache_creation_tokens: int = Field(0, ge=0, le=MAX_COUNT)
    reasoning_tokens: int = Field(0, ge=0, le=MAX_COUNT)
    cost_usd: float | None = Field(None, ge=0)
    model: str | None = None
    provider: str | None = None
    workspace: str | None = None
    attributes: dict[str, Any] | None = None
    resource_attributes: dict[str, Any] | None = None
    events: list[dict[str, Any]] | None = None


class SpanUpdate(_Body):
    """Fields of a span to change (PUT): only those present change; ``id`` and ``trace_id``, when given,
    must name the span being updated (a span never moves to another key)."""

    id: str | None = None
    trace_id: str | None = None
    parent_span_id: str | None = None
    task_id: LinkId | None = None
    agent_assignment_id: LinkId | None = None
    chain_id: LinkId | None = None
    stage_id: LinkId | None = None
    message_id: LinkId | None = None
    session_id: LinkId | None = None
    name: Annotated[str, StringConstraints(min_length=1, max_length=1000)] | None = None
    kind: SpanKind | None = None
    status: SpanStatus | None = None
    status_message: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    duration_ms: float | None = Field(None, ge=0, le=MAX_DURATION_MS)
    tokens_in: int | None = Field(None, ge=0, le=MAX_COUNT)
    tokens_out: int | None = Field(None, ge=0, le=MAX_COUNT)
    cache_read_tokens: int | None = Field(None, ge=0, le=MAX_COUNT)
    cache_creation_tokens: int | None = Field(None, ge=0, le=MAX_COUNT)
    reasoning_tokens: int | None = Field(None, ge=0, le=MAX_COUNT)
    cost_usd: float | None = Field(None, ge=0)
    model: str | None = None
    provider: str | None = None
    workspace: str | None = None
    attributes: dict[str, Any] | None = None
    resource_attributes: dict[str, Any] | None = None
    events: list[dict[str, Any]] | None = None


class SpanEventCreate(_Body):
    """The seed's SpanEvent as posted: ``timestamp`` defaults to now."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=1000)]
    timestamp: datetime | None = None
    event_type: EventType | None = None
    approval_status: Literal["pending", "approved", "rejected"] | None = None
    tool_name: str | None = None
    error_message: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class SpanEventView(BaseModel):
    """The seed's SpanEvent; ``id`` is the event's 1-based position among its span's events."""

    id: int
    span_id: str
    name: str
    timestamp: datetime | None = None
    event_type: EventType = "custom"
    approval_status: str | None = None
    tool_name: str | None = None
    error_message: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class SpanEventList(BaseModel):
    span_id: str
    events: list[SpanEventView]
    count: int


# -- enriched spans ------------------------------------------------------------------------------------------

class EnrichedSpanQuery(SpanQuery):
    """The span filters plus ``hierarchical`` (a tree by parent_span_id) and ``include_attributes``."""

    hierarchical: bool = False
    include_attributes: bool = False


class EnrichedSpan(BaseModel):
    """The seed's HierarchicalSpan: a span with its display name (and its children in a tree)."""

    id: str
    trace_id: str
    parent_span_id: str | None = None
    name: str
    display_name: str
    kind: str
    start_time: datetime
    end_time: datetime | None = None
    duration_ms: float = 0
    status: str
    status_message: str | None = None
    provider: str | None = None
    model: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    cost_usd: float = 0
    task_id: str | None = None
    agent_assignment_id: str | None = None
    session_id: str | None = None
    tool_name: str | None = None
    attributes: dict[str, Any] | None = None
    chat_context: ChatContext | None = None
    children: list[EnrichedSpan] = Field(default_factory=list)


class EnrichedSpanList(BaseModel):
    """``spans``: the page (roots only when ``hierarchical``); ``count``: spans in the page."""

    spans: list[EnrichedSpan]
    count: int
    limit: int
    offset: int
    hierarchical: bool


class EnrichedSpanDetail(SpanView):
    """One span with the tool call it ran: input and response (JSON when they parse), success."""

    tool_name: str | None = None
    tool_use_id: str | None = None
    tool_input: Any = None
    tool_response: Any = None
    tool_success: bool | None = None


# -- task hierarchy ------------------------------------------------------------------------------------------

class TaskHierarchyQuery(_Params):
    """``depth``: span-tree depth (0 = unlimited); ``include_spans=false`` keeps only trace summaries;
    ``workspace`` drops spans recorded in another workspace; ``include_chat`` attaches chat contexts."""

    depth: int = Field(0, ge=0)
    include_spans: bool = True
    workspace: str | None = None
    include_chat: bool = False


class HierarchyTask(BaseModel):
    """The seed's Task as a hierarchy's head (for a session fallback: the session as a task)."""

    id: str
    workspace_id: str | None = None
    parent_task_id: str | None = None
    title: str
    description: str | None = None
    source_type: str
    source_ref: str | None = None
    status: str
    priority: str = "normal"
    created_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    total_duration_ms: int = 0
    total_tokens_in: int = 0
    total_tokens_out: int = 0
    total_cost_usd: float = 0
    agent_count: int = 0
    span_count: int = 0
    error_count: int = 0


class HierarchyAgent(BaseModel):
    """The seed's AgentAssignment (for a session fallback: the session's agent)."""

    id: str
    task_id: str
    agent_id: str
    provider: str = ""
    status: str
    assigned_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    parent_assignment_id: str | None = None
    duration_ms: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0
    tool_calls: int = 0
    turns: int = 0


class SpanNode(BaseModel):
    span: SpanView
    children: list[SpanNode] = Field(default_factory=list)


class HierarchyTraceSummary(BaseModel):
    span_count: int
    total_tokens: int
    total_cost_usd: float
    duration_ms: int
    error_count: int


class TraceHierarchy(BaseModel):
    """``root_span``: the tree under the trace's first root; ``spans``: every span of the trace, flat
    (nodes without children), by start time. A session's turn that no span recorded is a trace of its own
    whose id is the LLM call's key."""

    trace_id: str
    root_span: SpanNode | None = None
    spans: list[SpanNode]
    summary: HierarchyTraceSummary


class AgentHierarchy(BaseModel):
    """An assignment with its traces; ``agent`` is null for spans of the task that name no known assignment."""

    agent: HierarchyAgent | None
    traces: list[TraceHierarchy]


class TaskHierarchy(BaseModel):
    """``source``: "task", or "session" when the id named no task and was read as a session id."""

    task: HierarchyTask
    agents: list[AgentHierarchy]
    source: Literal["task", "session"] = "task"


# -- outliers ------------------------------------------------------------------------------------------------

OutlierMetric = Literal["cost", "duration", "tokens", "all"]


class OutlierQuery(_Params):
    threshold: float = Field(2.0, gt=0)
    metric: OutlierMetric = "all"
    limit: int = Field(10, ge=1)
    show_rate: bool = False

    @field_validator("metric", mode="before")
    @classmethod
    def _blank_is_all(cls, value: Any) -> Any:
        return "all" if value == "" else value

    @field_validator("limit")
    @classmethod
    def _cap(cls, value: int) -> int:
        return min(value, MAX_LIMIT)


class TaskMetricStats(BaseModel):
    """Statistics of one metric over the spans where it is non-zero (sample standard deviation)."""

    metric: str
    count: int
    sum: float
    mean: float
    std_dev: float
    min: float
    max: float


class SpanOutlier(BaseModel):
    span: SpanView
    metric: str
    value: float
    mean: float
    std_dev: float
    z_score: float
    percent_of_total: float


class CumulativePoint(BaseModel):
    span_index: int
    span_name: str
    timestamp: datetime
    value: float
    cumulative: float
    delta_percent: float


class RateAnalysis(BaseModel):
    cumulative_cost: list[CumulativePoint] = Field(default_factory=list)
    cumulative_tokens: list[CumulativePoint] = Field(default_factory=list)
    cumulative_duration: list[CumulativePoint] = Field(default_factory=list)


class OutlierAnalysis(BaseModel):
    task_id: str
    task_title: str
    span_count: int
    stats: list[TaskMetricStats]
    outliers: list[SpanOutlier]
    rate_of_change: RateAnalysis | None = None
    threshold: float
    analyzed_at: datetime


# -- span summary --------------------------------------------------------------------------------------------

class SpanNameCount(BaseModel):
    name: str
    count: int


class TaskSpanSummary(BaseModel):
    """Totals of a task's spans (or a session's spans and calls); ``duration_ms`` sums span durations."""

    task_id: str
    span_count: int
    trace_count: int
    tokens_in: int
    tokens_out: int
    cost_usd: float
    duration_ms: int
    start_time: datetime | None = None
    end_time: datetime | None = None
    top_span_names: list[SpanNameCount]


# -- span hierarchy ------------------------------------------------------------------------------------------

class SpanHierarchyQuery(PageQuery):
    """Which spans the tree is built from: the ``limit`` newest (default 200) under the span filters."""

    limit: int = Field(200, ge=1)
    session_id: str | None = None
    trace_id: str | None = None
    task_id: str | None = None
    workspace: str | None = None
    start_after: Instant | None = None
    start_before: Instant | None = None


class SpanHierarchyNode(BaseModel):
    id: str
    trace_id: str
    name: str
    display_name: str | None = None
    parent_id: str | None = None
    depth: int
    start_time: datetime
    duration_ms: int
    tokens_in: int = 0
    tokens_out: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    cost_usd: float = 0
    turn_number: int | None = None
    tool_name: str | None = None
    node_type: NodeType
    session_id: str | None = None
    status: str
    provider: str | None = None
    model: str | None = None
    children: list[SpanHierarchyNode] = Field(default_factory=list)


class TokenTotals(BaseModel):
    model_config = ConfigDict(validate_by_name=True, serialize_by_alias=True)
    in_: int = Field(0, alias="in")
    out: int = 0
    cache_read: int = 0
    cache_creation: int = 0


class TimeRange(BaseModel):
    start: datetime | None = None
    end: datetime | None = None


class SpanHierarchyStats(BaseModel):
    total_spans: int
    total_cost: float
    total_tokens: TokenTotals
    cache_savings_usd: float = 0
    time_range: TimeRange
    max_depth: int


class SpanHierarchyResult(BaseModel):
    """``sessions``: session id -> its number of turns (LLM calls)."""

    roots: list[SpanHierarchyNode]
    sessions: dict[str, int]
    stats: SpanHierarchyStats


# -- exec hierarchy ------------------------------------------------------------------------------------------

class ExecHierarchyQuery(PageQuery):
    """The ``limit`` newest exec/run/check spans (default 50)."""


class ExecTaskNode(BaseModel):
    task_id: str
    parent_task_id: str = ""
    command: str
    provider: str = ""
    workspace: str = ""
    file_path: str = ""
    status: str
    start_time: datetime | None = None
    duration_ms: int = 0
    children: list[ExecTaskNode] = Field(default_factory=list)
    turn_number: int | None = None
    tool_name: str | None = None
    tool_input: str | None = None
    tool_output: str | None = None
    display_name: str | None = None


class MessageNode(BaseModel):
    message_id: str
    title: str = ""
    from_agent: str = ""
    to_inbox: str = ""
    message_type: str = ""
    status: str = ""
    created_at: datetime | None = None
    execs: list[ExecTaskNode] = Field(default_factory=list)


class ExecHierarchyWithMessages(BaseModel):
    """Execs grouped by the message that triggered them; ``orphan``: execs no message triggered."""

    messages: list[MessageNode]
    orphan: list[ExecTaskNode]
    count: int


# -- Claude Code event queue and session hierarchy -------------------------------------------------------------

class ClaudeCodeEventsQuery(PageQuery):
    source_type: Literal["coordinator", "user_session", "claude_code", "gemini_cli"] | None = None
    workspace: str | None = None

    @field_validator("source_type", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if value == "" else value


class ClaudeCodeEvent(BaseModel):
    """A session as an event-queue item (the seed's ClaudeCodeEvent); ``id`` = ``task_id`` = session id, so
    the task hierarchy of the id is the session's hierarchy."""

    id: str
    created_at: str
    message_type: str = "claude_code_turn"
    from_agent: str
    to_inbox: str
    title: str
    task_id: str
    status: str = "read"
    cost_usd: float
    tokens_in: int
    tokens_out: int
    duration_ms: int
    workspace: str | None = None
    model: str | None = None
    provider: str | None = None
    directive: str | None = None
    directive_full: str | None = None
    turn_count: int
    metrics_summary: str | None = None


class ClaudeCodeEventList(BaseModel):
    events: list[ClaudeCodeEvent]
    count: int
    limit: int
    offset: int


class TurnTool(BaseModel):
    id: str
    name: str
    tool_name: str | None = None
    duration_ms: int = 0
    cost: float = 0
    status: str
    start_time: datetime | None = None


class TurnGroup(BaseModel):
    """One turn (an LLM call, by time) with the tools run until the next turn."""

    turn_number: int
    span_id: str
    duration_ms: int
    cost: float
    tokens_in: int
    tokens_out: int
    model: str | None = None
    start_time: datetime | None = None
    tools: list[TurnTool] = Field(default_factory=list)


class TurnGroupSession(BaseModel):
    id: str
    name: str
    duration_ms: int
    cost: float
    tokens_in: int
    tokens_out: int
    provider: str | None = None
    model: str | None = None


class TurnGroupStats(BaseModel):
    total_turns: int
    total_tools: int
    total_cost: float
    total_tokens: int
    duration_ms: int


class TurnGroupedHierarchy(BaseModel):
    session: TurnGroupSession | None = None
    turns: list[TurnGroup]
    stats: TurnGroupStats
