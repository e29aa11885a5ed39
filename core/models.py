"""Pydantic models at the JSON API edge: query parameters and the read views (seed field names)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

MAX_LIMIT = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NS_END = datetime(2262, 4, 11, tzinfo=UTC)  # the last day a signed 64-bit nanosecond count reaches


def _storable(value: datetime) -> datetime:
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    if not _EPOCH <= aware < _NS_END:
        raise ValueError("must be between 1970-01-01 and 2262-04-10")
    return aware


# A time filter: stored times are nanoseconds since the epoch in 64 bits; a naive time is UTC.
Instant = Annotated[datetime, AfterValidator(_storable)]


class PageQuery(BaseModel):
    """`limit` (default 50, values above 1000 are capped to 1000) and `offset`; the base of every list query."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    limit: int = Field(50, ge=1)
    offset: int = Field(0, ge=0, le=2**62)  # SQLite integers are 64-bit

    @field_validator("limit")
    @classmethod
    def _cap(cls, value: int) -> int:
        return min(value, MAX_LIMIT)



class TraceQuery(PageQuery):
    task_id: str | None = None
    trace_id: str | None = None
    session_id: str | None = None
    start_time: Instant | None = None
    end_time: Instant | None = None


SpanStatus = Literal["unset", "ok", "error"]


class SpanQuery(PageQuery):
    """The seed's span filters (plus ``session_id``); ``include_chat`` attaches each span's ChatContext."""

    task_id: str | None = None
    trace_id: str | None = None
    agent_assignment_id: str | None = None
    session_id: str | None = None
    provider: str | None = None
    model: str | None = None
    status: SpanStatus | None = None
    workspace: str | None = None
    start_after: Instant | None = None
    start_before: Instant | None = None
    include_chat: bool = False


class MetricQuery(PageQuery):
    limit: int = Field(100, ge=1)  # the seed's default for telemetry metrics
    session_id: str | None = None
    name: str | None = None
    workspace: str | None = None
    since: Instant | None = None
    until: Instant | None = None


class ChatContext(BaseModel):
    """The seed's ChatContext: the conversation around a span (first user prompt, cut to 500 characters)."""

    user_prompt: str | None = None
    assistant_response: str | None = None
    has_thinking: bool = False
    turn_number: int | None = None
    full_chat_url: str | None = None


class SpanView(BaseModel):
    """The seed's Span. ``display_name`` is filled by the enriched views, ``chat_context`` by include_chat;
    list views that do not return attribute blobs leave attributes empty."""

    id: str
    trace_id: str
    parent_span_id: str | None = None
    task_id: str | None = None
    agent_assignment_id: str | None = None
    chain_id: str | None = None
    stage_id: str | None = None
    message_id: str | None = None
    session_id: str | None = None
    name: str
    kind: str
    status: str
    status_message: str | None = None
    start_time: datetime
    end_time: datetime | None = None
    duration_ms: float = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0
    provided_cost_usd: float | None = None
    computed_cost_usd: float | None = None
    cache_savings_usd: float = 0
    unpriced: bool = False
    model: str | None = None
    provider: str | None = None
    source_type: str = "other"
    workspace: str = "unknown"
    attributes: dict[str, Any] = Field(default_factory=dict)
    resource_attributes: dict[str, Any] = Field(default_factory=dict)
    events: list[dict[str, Any]] = Field(default_factory=list)
    display_name: str | None = None
    chat_context: ChatContext | None = None


class TraceSummary(BaseModel):
    trace_id: str
    root_span_name: str | None = None
    service_name: str | None = None
    source_type: str = "other"
    status: str
    span_count: int
    start_time: datetime
    end_time: datetime | None = None
    duration_ms: float
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0
    session_id: str | None = None
    task_id: str | None = None
    source: str = "local"  # local | gcp | jaeger (a remote trace archive)


class TraceDetail(BaseModel):
    trace_id: str
    root_span: SpanView | None
    spans: list[SpanView]
    span_count: int
    duration_ms: float
    start_time: datetime
    end_time: datetime | None
    source: str = "local"  # local | gcp | jaeger (a remote trace archive)
    warnings: list[str] = Field(default_factory=list)  # remote archives that could not be asked


class SessionView(BaseModel):
    session_id: str
    source_type: str = "other"
    service_name: str | None = None
    workspace: str = "unknown"
    user_id: str | None = None
    user_email: str | None = None
    organization_id: str | None = None
    app_version: str | None = None
    terminal_type: str | None = None
    models: list[str] = Field(default_factory=list)
    started_at: datetime | None = None
    last_seen_at: datetime | None = None
    ended_at: datetime | None = None  # from a SessionEnd hook
    end_reason: str | None = None
    transcript_path: str | None = None
    summary: dict[str, Any] | None = None


class ToolCallView(BaseModel):
    tool_use_id: str
    session_id: str | None = None
    tool_name: str | None = None
    start_time: datetime | None = None
    duration_ms: float | None = None
    success: bool | None = None
    error: str | None = None
    decision: str | None = None
    decision_source: str | None = None
    approval_wait_ms: float | None = None
    tool_input: str | None = None
    tool_response: str | None = None
    trace_id: str | None = None
    span_id: str | None = None


class LlmCallView(BaseModel):
    call_key: str
    session_id: str | None = None
    time: datetime
    duration_ms: float | None = None
    model: str | None = None
    provider: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0
    provided_cost_usd: float | None = None
    computed_cost_usd: float | None = None
    cache_savings_usd: float = 0
    unpriced: bool = False
    request_id: str | None = None
    response_id: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    success: bool = True
    source: str


class EventView(BaseModel):
    event_key: str
    name: str
    time: datetime
    session_id: str | None = None
    prompt_id: str | None = None
    severity: str | None = None
    body: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class MetricPointView(BaseModel):
    name: str
    metric_type: str
    temporality: str
    series_key: str
    session_id: str | None = None
    model: str | None = None
    label_type: str | None = None
    start_time: datetime | None = None
    timestamp: datetime
    value: float
    labels: dict[str, Any] = Field(default_factory=dict)
    resource_attributes: dict[str, Any] = Field(default_factory=dict)


class SessionMetricsSummary(BaseModel):
    """The seed's SessionMetricsSummary (field names kept)."""

    session_id: str
    tokens_in: int = 0
    tokens_out: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    reasoning_tokens: int = 0
    total_cost_usd: float = 0
    cache_savings_usd: float = 0
    unpriced_calls: int = 0
    lines_added: int = 0
    lines_removed: int = 0
    commit_count: int = 0
    pull_request_count: int = 0
    active_time_ms: int = 0
    turn_count: int = 0
    tool_calls: int = 0
    duration_ms: int = 0
    span_count: int = 0
    error_count: int = 0
    success_rate: float = 0
    tokens_from_metrics: bool = False


class TraceList(BaseModel):
    traces: list[TraceSummary]
    count: int
    limit: int
    offset: int
    warnings: list[str] = Field(default_factory=list)  # remote archives that failed: the answer is without them


class SessionList(BaseModel):
    sessions: list[SessionView]
    count: int
    limit: int
    offset: int


class ToolCallList(BaseModel):
    tools: list[ToolCallView]
    count: int


class ToolSummary(BaseModel):
    tool_name: str
    count: int
    success_count: int
    details: list[ToolCallView]


class ToolSummaryList(BaseModel):
    tools: list[ToolSummary]


class LlmCallList(BaseModel):
    llm_calls: list[LlmCallView]
    count: int


class EventList(BaseModel):
    events: list[EventView]
    count: int


class MetricPointList(BaseModel):
    metrics: list[MetricPointView]
    count: int
    limit: int
    offset: int


class SpanList(BaseModel):
    spans: list[SpanView]
    count: int
    limit: int
    offset: int
