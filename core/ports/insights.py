"""InsightStore: the Store port's methods for the insights API area (every method scoped to one org)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Literal, Protocol

Dimension = Literal["model", "provider", "source_type", "workspace"]
DIMENSIONS: tuple[Dimension, ...] = ("model", "provider", "source_type", "workspace")

# The value a record without a model, provider or workspace is grouped under; source type falls back to "other".
UNKNOWN = "unknown"

# Log events that are failed LLM requests reported without an LLM call of their own (core.sessions counts them).
API_ERROR_EVENTS: tuple[str, ...] = ("claude_code.api_error", "gemini_cli.api_error")


class _Located(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def path(self) -> str: ...


class BreakdownKeys:
    """Breakdown keys of raw dimension values, for every adapter: ``unknown`` for no model, provider or workspace,
    ``other`` for no source type, and a catalog workspace's id for a path at or under its path (the longest such
    path wins)."""

    def __init__(self, dimension: Dimension, workspaces: Sequence[_Located]) -> None:
        self.dimension = dimension
        roots = [(w.id, w.path.rstrip("/") + "/") for w in workspaces if w.path != ""]
        self._roots = sorted(roots, key=lambda r: -len(r[1]))

    def of(self, raw: str | None) -> str:
        if self.dimension == "source_type":
            return raw or "other"
        if not raw:
            return UNKNOWN
        if self.dimension != "workspace" or not self._roots:
            return raw
        slashed = raw.rstrip("/") + "/"
        return next((ws_id for ws_id, root in self._roots if slashed.startswith(root)), raw)


@dataclass(frozen=True, slots=True)
class InsightFilter:
    """The control-plane filter, resolved: a window ``[start_ns, end_ns)`` and optional exact-match facets.

    Facet semantics every adapter follows:

    - ``source_type`` / ``workspace`` are properties of a session: a record with a session matches through its
      session, a record without one (an SDK span, an LLM call or tool call of such a span) through the span's
      own columns. ``workspace`` matches the stored path, ``unknown`` for none, or the id of a catalog
      workspace whose path is that path or a parent of it.
    - ``provider`` / ``model`` are properties of an LLM call: LLM calls match on their own columns, spans are
      then the spans that reported a matching call, tasks those with a span naming a matching model;
      tool calls, API errors and session activity match through the sessions that made a matching LLM call
      inside the window (or day bucket).
    """

    start_ns: int
    end_ns: int
    source_type: str | None = None
    provider: str | None = None
    model: str | None = None
    workspace: str | None = None

    @property
    def by_session(self) -> bool:
        return self.source_type is not None or self.workspace is not None

    @property
    def by_call(self) -> bool:
        return self.provider is not None or self.model is not None


@dataclass(slots=True)
class CallTotals:
    """LLM calls (one row per call, however many signals reported it) summed over a group."""

    calls: int = 0
    failed_calls: int = 0
    unpriced_calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    cache_savings_usd: float = 0.0
    duration_ms: float = 0.0
    timed_calls: int = 0  # calls that reported a duration (the denominator of an average latency)
    span_calls: int = 0  # calls a span reported: the LLM spans among them
    sessions: int = 0  # distinct sessions that made these calls

    def add(self, other: CallTotals) -> None:
        """Merge another group's sums (``sessions`` adds too: callers merge groups of disjoint sessions)."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass(slots=True)
class InsightTotals:
    """Everything MetricsSummary reports, under one filter."""

    calls: CallTotals = field(default_factory=CallTotals)
    spans: int = 0
    tool_calls: int = 0
    failed_tool_calls: int = 0
    api_errors: int = 0
    lines_added: int = 0
    lines_removed: int = 0
    commits: int = 0
    pull_requests: int = 0
    active_time_ms: int = 0
    workspaces: int = 0
    tasks: int = 0
    agents: int = 0


@dataclass(slots=True)
class GroupTotals:
    """One value of a breakdown dimension: its LLM calls and its spans (for model and provider, which only
    LLM spans carry, the spans that reported its calls)."""

    key: str
    calls: CallTotals = field(default_factory=CallTotals)
    spans: int = 0


@dataclass(slots=True)
class DayTotals:
    """One day bucket of the heatmap."""

    start_ns: int
    end_ns: int
    calls: CallTotals = field(default_factory=CallTotals)
    spans: int = 0
    tasks: int = 0
    tool_calls: int = 0
    failed_tool_calls: int = 0
    api_errors: int = 0


class InsightStore(ABC):
    """Aggregates over the telemetry facts and the catalog, under an InsightFilter.

    Calls, tokens and cost come from LLM-call records only (a call reported by an event, a span and metric
    points is one record); tool calls count records with a name or an outcome; lines, commits, pull requests
    and active time are the session aggregates (core.sessions, metric points turned into increments) of the
    sessions active in the window."""

    @abstractmethod
    def insight_totals(self, org_id: str, f: InsightFilter) -> InsightTotals: ...

    @abstractmethod
    def insight_groups(self, org_id: str, f: InsightFilter, dimension: Dimension) -> list[GroupTotals]:
        """One entry per value of ``dimension`` with calls or spans in the filter (any order). Keys: the model
        or provider (``unknown`` for none), the source type, or the workspace: a catalog workspace's id for
        paths at or under its path, else the path, ``unknown`` for none."""

    @abstractmethod
    def insight_days(self, org_id: str, f: InsightFilter, days: list[tuple[int, int]]) -> list[DayTotals]:
        """Totals per ``[start_ns, end_ns)`` bucket, in the order given (buckets lie inside the filter's window)."""

    @abstractmethod
    def workspace_labels(self, org_id: str, keys: list[str]) -> dict[str, str]:
        """Display names of workspace breakdown keys that are catalog workspace ids."""
