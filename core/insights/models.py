"""Pydantic models of the insights area: the control-plane filter and the aggregate views (seed field names)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from core.insights.window import parse_when, zone
from core.ports.insights import Dimension

# Source types the normaliser assigns (DESIGN §6, core.normalise.resource.source_type_of).
SourceType = Literal["claude_code", "gemini_cli", "eval", "coordinator", "other"]


def _blank_is_none(value: Any) -> Any:
    """An empty query value (``?model=``) is no filter, as a dashboard's empty select sends it."""
    return None if isinstance(value, str) and not value.strip() else value


def _lower(value: str | None) -> str | None:
    return value.lower() if value is not None else value


def _when(value: str | None) -> str | None:
    if value is not None:
        parse_when(value)
    return value


def _tz(value: str) -> str:
    zone(value)
    return value


_Facet = Annotated[Annotated[str, Field(max_length=500)] | None, BeforeValidator(_blank_is_none)]
_When = Annotated[str | None, BeforeValidator(_blank_is_none), AfterValidator(_when)]


class InsightQuery(BaseModel):
    """The control-plane filter and the zone of day boundaries; the window defaults to the last 30 days."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    source_type: Annotated[SourceType | None, BeforeValidator(_blank_is_none)] = Field(
        None, description="Source type of the session (or of the span, for records without a session)")
    provider: Annotated[_Facet, AfterValidator(_lower)] = Field(
        None, description="LLM provider (claude, gemini, openai, ...)")
    model: _Facet = Field(None, description="Model name as recorded")
    workspace: _Facet = Field(
        None, description="Workspace path, 'unknown', or a catalog workspace id (its path and paths under it)")
    start_date: _When = Field(None, description="Window start: YYYY-MM-DD (local midnight in tz) or RFC 3339")
    end_date: _When = Field(None, description="Window end: YYYY-MM-DD (inclusive day) or RFC 3339 (exclusive)")
    tz: Annotated[str, AfterValidator(_tz)] = Field("UTC", description="IANA time zone of dates and day buckets")


class _Window(BaseModel):
    start_date: dt.datetime = Field(description="Window start (inclusive)")
    end_date: dt.datetime = Field(description="Window end (exclusive)")
    tz: str


class MetricsSummary(_Window):
    """The seed's MetricsSummary under the control-plane filter, plus session, error and cache detail."""

    total_workspaces: int = 0
    total_tasks: int = 0
    total_spans: int = 0
    total_agents: int = 0
    total_tokens_in: int = 0
    total_tokens_out: int = 0
    total_cost_usd: float = 0
    success_rate: float = 0
    total_cache_read_tokens: int = 0
    total_cache_creation_tokens: int = 0
    cache_savings_usd: float = 0
    lines_added: int = 0
    lines_removed: int = 0
    commit_count: int = 0
    pull_request_count: int = 0
    active_time_ms: int = 0
    turn_count: int = 0
    tool_calls: int = 0
    error_count: int = 0
    total_sessions: int = 0
    total_reasoning_tokens: int = 0
    unpriced_calls: int = 0
    failed_llm_calls: int = 0
    failed_tool_calls: int = 0
    api_errors: int = 0


class ProviderComparison(BaseModel):
    """The seed's ProviderComparison; an execution is one LLM call."""

    provider: str
    total_executions: int = 0
    total_tokens_in: int = 0
    total_tokens_out: int = 0
    total_cost: float = 0
    avg_duration_ms: float = 0
    success_rate: float = 0
    failed_executions: int = 0
    total_cache_read_tokens: int = 0
    total_cache_creation_tokens: int = 0
    total_reasoning_tokens: int = 0
    cache_savings_usd: float = 0
    avg_cost_usd: float = 0
    cost_share: float = 0
    session_count: int = 0
    span_count: int = 0


class ProviderComparisonList(_Window):
    providers: list[ProviderComparison]
    count: int


class BreakdownItem(BaseModel):
    """The seed's BreakdownItem for one value of a dimension, plus calls, sessions and share of cost."""

    id: str
    label: str
    span_count: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0
    duration_ms: int = Field(0, description="Total LLM call time")
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    cache_savings_usd: float = 0
    reasoning_tokens: int = 0
    calls: int = 0
    failed_calls: int = 0
    session_count: int = 0
    cost_share: float = Field(0, description="This item's share of the total cost, 0 to 1")


class Breakdown(_Window):
    dimension: Dimension
    items: list[BreakdownItem]
    count: int
    total_cost_usd: float = 0


class HeatmapDataPoint(BaseModel):
    """The seed's HeatmapDataPoint (one local day), plus calls, sessions, cache tokens, tool calls and errors."""

    date: dt.date
    span_count: int = 0
    task_count: int = 0
    cost: float = 0
    success_rate: float = 0
    tokens_in: int = 0
    tokens_out: int = 0
    calls: int = 0
    session_count: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    tool_calls: int = 0
    error_count: int = 0


class Heatmap(_Window):
    days: list[HeatmapDataPoint]
    count: int
