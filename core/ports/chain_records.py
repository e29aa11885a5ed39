"""The chains area's records: metric and error entries, the changes a decision makes, and their outcomes."""

# Kept apart from ChainStore (core/ports/chains.py) so the Store port, and an ingest function's cold start, load
# without them.

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.events import ChangeEvent

if TYPE_CHECKING:
    from core.chains.models import ChainStage, ExecutionChain


@dataclass(frozen=True, slots=True)
class MetricEntry:
    """Amounts one metrics POST adds, under its idempotency key. Stage entries use tokens_in/tokens_out;
    chain-level entries use ``tokens`` (the seed's chain metrics do not split them)."""

    key: str
    cost: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    tokens: int = 0
    turns: int = 0
    tool_calls: int = 0
    duration_ms: int = 0

    def amounts(self) -> tuple[float, int, int, int, int, int, int]:
        return (self.cost, self.tokens_in, self.tokens_out, self.tokens, self.turns, self.tool_calls,
                self.duration_ms)


@dataclass(frozen=True, slots=True)
class ErrorEntry:
    """One recorded stage error under its key (a resent error with the same key is recorded once)."""

    key: str
    message: str


@dataclass(slots=True)
class StageChange:
    """What a decision does to a stage: ``fields`` (ChainStage field names -> values; ``eval_assessment`` takes
    an EvalAssessment), at most one metric entry or error entry, and the events to append with it."""

    fields: dict[str, Any] = field(default_factory=dict)
    metric: MetricEntry | None = None
    error: ErrorEntry | None = None
    events: list[ChangeEvent] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.fields or self.metric or self.error or self.events)


@dataclass(slots=True)
class ChainChange:
    """What a decision does to a chain: ``fields`` (status, completed_at), a chain-level metric entry, events."""

    fields: dict[str, Any] = field(default_factory=dict)
    metric: MetricEntry | None = None
    events: list[ChangeEvent] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.fields or self.metric or self.events)


@dataclass(frozen=True, slots=True)
class StageOutcome:
    """The stage and its chain after a change; ``applied`` is False when nothing changed (a no-op decision or
    an idempotency key seen before)."""

    stage: ChainStage
    chain: ExecutionChain
    applied: bool


@dataclass(frozen=True, slots=True)
class ChainOutcome:
    chain: ExecutionChain
    applied: bool


StageDecision = Callable[["ChainStage", "ExecutionChain"], StageChange]
ChainDecision = Callable[["ExecutionChain"], ChainChange]
