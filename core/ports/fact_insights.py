"""The analytics side of the insights: the telemetry history (export of ingested facts) and its fact aggregations."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.ports.insights import DayTotals, Dimension, GroupTotals, InsightFilter, InsightTotals
from core.records import Batch, LlmCallRecord, SpanRecord

if TYPE_CHECKING:  # pydantic models stay out of the worker's cold start
    from core.models import SessionMetricsSummary


@dataclass(frozen=True, slots=True)
class CatalogWorkspace:
    """A catalog workspace as the fact aggregations need it: a stored path at or under ``path`` maps to ``id``."""

    id: str
    path: str


@dataclass(frozen=True, slots=True)
class SessionRollupRow:
    """The per-session aggregates the aggregate worker recomputes from the facts (core.sessions) that the insights
    sum over the sessions active in a window. ``computed_ns`` orders recomputes: the newest one is kept."""

    session_id: str
    lines_added: int
    lines_removed: int
    commits: int
    pull_requests: int
    active_time_ms: int
    computed_ns: int

    @classmethod
    def from_summary(cls, summary: SessionMetricsSummary, computed_ns: int) -> SessionRollupRow:
        return cls(session_id=summary.session_id, lines_added=summary.lines_added,
                   lines_removed=summary.lines_removed, commits=summary.commit_count,
                   pull_requests=summary.pull_request_count, active_time_ms=summary.active_time_ms,
                   computed_ns=computed_ns)


class TelemetryHistory(ABC):
    """Where the export worker writes the facts of each ingested batch, and the aggregate worker the session
    rollups it recomputed. Every write is idempotent: a replayed batch or rollup changes nothing."""

    @abstractmethod
    def export(self, org_id: str, batch: Batch, version_ns: int | None = None) -> None:
        """Write the batch's spans, events, LLM calls, tool calls, metric points and session sightings.

        ``version_ns`` orders rewrites of one LLM call, tool call or session: pass the time the batch was stored
        (the same value on every redelivery of it), so a late redelivery never overrides a newer write. It
        defaults to now. Raises core.errors.StorageUnavailable when the history cannot take the write."""

    @abstractmethod
    def export_session_rollups(self, org_id: str, rows: Sequence[SessionRollupRow]) -> None:
        """Write recomputed session rollups (the newest ``computed_ns`` of a session wins)."""

    @abstractmethod
    def copy_spans(self, org_id: str, keys: Sequence[tuple[str, str]], stored: Sequence[SpanRecord]) -> None:
        """Make the history's spans of these (trace_id, span_id) keys the Store's current ones: ``stored`` (the
        keys' spans the Store has now, written as the newest version), and no other row of those keys (a deleted
        span, a moved start)."""

    @abstractmethod
    def erase_session(self, org_id: str, session_id: str, erased_ns: int) -> None:
        """Delete every row of the session, found as the Store's purge finds them (its own rows, and LLM and tool
        calls naming one of its spans), and remember the erasure: see ``erased_sessions``."""

    @abstractmethod
    def iter_priced(self) -> Iterator[tuple[str, str, str, LlmCallRecord]]:
        """Every LLM call and span with a model, of every org, as (table, org, key, record with its usage): what
        `observatory reprice` prices again. Keys as the Store's `iter_priced` gives them."""

    @abstractmethod
    def update_computed_costs(self, table: str, rows: Sequence[tuple[str, str, LlmCallRecord]]) -> None:
        """Rewrite the computed cost, cost, cache savings and unpriced flag of these rows (as a newer version)."""

    @abstractmethod
    def erased_sessions(self, org_id: str, session_ids: Sequence[str]) -> dict[str, int]:
        """The sessions among these that were erased, with the time of their (latest) erasure."""


class FactInsights(ABC):
    """The fact aggregations of the InsightStore port (core.ports.insights), with the same InsightFilter rules,
    over the telemetry history. The catalog lives in the operational Store: callers pass the org's catalog
    workspaces (for workspace filters and breakdown keys), and the catalog counts of InsightTotals (workspaces,
    tasks, agents) are left at zero for the caller to fill (``task_ids`` gives the tasks the telemetry facets
    reach)."""

    @abstractmethod
    def insight_totals(self, org_id: str, f: InsightFilter, workspaces: Sequence[CatalogWorkspace]
                       ) -> InsightTotals: ...

    @abstractmethod
    def insight_groups(self, org_id: str, f: InsightFilter, dimension: Dimension,
                       workspaces: Sequence[CatalogWorkspace]) -> list[GroupTotals]: ...

    @abstractmethod
    def insight_days(self, org_id: str, f: InsightFilter, days: list[tuple[int, int]],
                     workspaces: Sequence[CatalogWorkspace]) -> list[DayTotals]: ...

    @abstractmethod
    def task_ids(self, org_id: str, f: InsightFilter, workspaces: Sequence[CatalogWorkspace]) -> set[str]:
        """Tasks with a span started in the window that matches the filter (for provider / model, a span naming
        a matching model): how source_type, provider and model facets reach catalog tasks."""
