"""The inputs of a session's rollup as the Store hands them over: its LLM calls, metric points and counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from core.metric_math import PointIn


class CallFact(NamedTuple):
    """What a session's rollup needs of one LLM call."""

    model: str | None
    time_ns: int
    tokens_in: int
    tokens_out: int
    cache_read_tokens: int
    cache_creation_tokens: int
    reasoning_tokens: int
    cost_usd: float
    cache_savings_usd: float
    unpriced: bool
    success: bool


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """A session's facts as its rollup reads them: its LLM calls in time order, its metric points newest first,
    and counts of the rest (tool calls with a name or outcome, failed ones, API error events, spans)."""

    started_at: datetime | None
    last_seen_at: datetime | None
    calls: list[CallFact]
    points: list[PointIn]
    tool_calls: int
    failed_tool_calls: int
    api_errors: int
    span_count: int
