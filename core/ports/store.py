"""The Store port: the operational store of telemetry facts, and its unit of work for ingest writes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple

from core.ports.catalog import CatalogStore
from core.ports.chains import ChainStore
from core.ports.erasure import ErasureStore
from core.ports.event_log import EventLogStore
from core.ports.hooks import HookStore
from core.ports.insights import API_ERROR_EVENTS, InsightStore
from core.ports.maintenance import MaintenanceStore
from core.ports.span_views import SpanViewStore
from core.records import Batch, LlmCallRecord

if TYPE_CHECKING:  # pydantic read models and the rollup's inputs stay out of the ingest cold start
    from core.models import (
        EventView,
        LlmCallView,
        MetricPointView,
        MetricQuery,
        SessionView,
        SpanQuery,
        SpanView,
        ToolCallView,
        TraceQuery,
        TraceSummary,
    )
    from core.session_facts import SessionFacts


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    id: int
    topic: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class SessionLink:
    task_id: str | None
    assignment_id: str | None


class IngestUnitOfWork(ABC):
    """One atomic ingest write; the lookups the join and linking rules need run inside it."""

    @abstractmethod
    def llm_calls_by_ids(self, org_id: str, ids: list[str]) -> list[LlmCallRecord]:
        """Calls whose request_id or response_id is one of ``ids``."""

    @abstractmethod
    def llm_call_candidates(
        self, org_id: str, session_id: str, t_from: int, t_to: int, tokens_out: list[int]
    ) -> list[LlmCallRecord]:
        """Calls of a session within a time range with one of these output counts (for the fuzzy join)."""

    @abstractmethod
    def session_links(self, org_id: str, session_ids: list[str]) -> dict[str, SessionLink]:
        """Task links learned from execute spans of these sessions."""

    @abstractmethod
    def session_workspaces(self, org_id: str, session_ids: list[str]) -> dict[str, str]: ...

    @abstractmethod
    def tool_use_ids_for_spans(self, org_id: str, keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """tool_use_id of stored tool calls by their (trace_id, span_id)."""

    @abstractmethod
    def write(self, batch: Batch, request_digest: str, outbox: list[tuple[str, bytes]]) -> None:
        """Upsert every fact of the batch and enqueue outbox messages in the same transaction."""

    @abstractmethod
    def adopt_tool_placeholders(self, org_id: str, real_ids: dict[str, str]) -> None:
        """Merge tool calls stored under span placeholder keys (``real_ids`` keys) into their real ids."""

    @abstractmethod
    def link_session_to_task(self, org_id: str, session_id: str, link: SessionLink) -> int:
        """Remember the link and attach the session's orphan spans; returns how many spans were linked."""


class SessionRollup(NamedTuple):
    """A session aggregate recomputed at ``computed_ns`` (the JSON of a SessionMetricsSummary)."""

    org_id: str
    session_id: str
    rollup_json: str
    computed_ns: int


_POINT_PAGE = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ns(moment: datetime) -> int:
    """A view's time back in nanoseconds, exact to its microsecond (a float timestamp would round)."""
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


class Store(CatalogStore, InsightStore, SpanViewStore, ErasureStore, ChainStore, HookStore, EventLogStore,
            MaintenanceStore, ABC):
    """Operational store. Every method is scoped to one org; no call can see another org's rows."""

    @abstractmethod
    def unit_of_work(self) -> AbstractContextManager[IngestUnitOfWork]: ...

    # -- reads ---------------------------------------------------------------------------------
    @abstractmethod
    def list_traces(self, org_id: str, query: TraceQuery) -> list[TraceSummary]: ...

    @abstractmethod
    def get_trace(self, org_id: str, trace_id: str) -> list[SpanView]: ...

    @abstractmethod
    def list_spans(self, org_id: str, query: SpanQuery) -> list[SpanView]: ...

    @abstractmethod
    def list_sessions(self, org_id: str, limit: int, offset: int) -> list[SessionView]: ...

    @abstractmethod
    def get_session(self, org_id: str, session_id: str) -> SessionView | None: ...

    @abstractmethod
    def session_tool_calls(self, org_id: str, session_id: str) -> list[ToolCallView]: ...

    @abstractmethod
    def session_llm_calls(self, org_id: str, session_id: str) -> list[LlmCallView]: ...

    @abstractmethod
    def session_events(self, org_id: str, session_id: str, names: list[str] | None = None) -> list[EventView]: ...

    @abstractmethod
    def session_span_count(self, org_id: str, session_id: str) -> int: ...

    @abstractmethod
    def list_metric_points(self, org_id: str, query: MetricQuery) -> list[MetricPointView]: ...

    def session_facts(self, org_id: str, session_id: str) -> SessionFacts | None:
        """What the session's rollup is computed from (None: no such session). This default reads the
        session's views; an adapter that can select the few columns itself (SQLite) overrides it, so the
        aggregate worker builds no read model per call and tool call."""
        from core.metric_math import PointIn
        from core.models import MetricQuery
        from core.session_facts import CallFact, SessionFacts

        session = self.get_session(org_id, session_id)
        if session is None:
            return None
        calls = [CallFact(c.model, _ns(c.time), c.tokens_in, c.tokens_out, c.cache_read_tokens,
                          c.cache_creation_tokens, c.reasoning_tokens, c.cost_usd, c.cache_savings_usd, c.unpriced,
                          c.success)
                 for c in self.session_llm_calls(org_id, session_id)]
        points: list[PointIn] = []
        while True:
            page = self.list_metric_points(org_id, MetricQuery(session_id=session_id, limit=_POINT_PAGE,
                                                               offset=len(points)))
            points += [PointIn(p.series_key, p.name, p.temporality, _ns(p.start_time) if p.start_time else 0,
                               _ns(p.timestamp), p.value, p.model, p.label_type) for p in page]
            if len(page) < _POINT_PAGE:
                break
        tools = [t for t in self.session_tool_calls(org_id, session_id)
                 if t.tool_name is not None or t.success is not None]
        return SessionFacts(
            started_at=session.started_at, last_seen_at=session.last_seen_at, calls=calls, points=points,
            tool_calls=len(tools), failed_tool_calls=sum(1 for t in tools if t.success is False),
            api_errors=len(self.session_events(org_id, session_id, list(API_ERROR_EVENTS))),
            span_count=self.session_span_count(org_id, session_id),
        )

    @abstractmethod
    def save_session_rollup(self, org_id: str, session_id: str, rollup_json: str, computed_ns: int) -> None:
        """Store a recomputed session aggregate unless a newer one is already stored."""

    def save_session_rollups(self, rollups: Sequence[SessionRollup]) -> None:
        """Store several recomputed session aggregates, each as save_session_rollup would. An adapter whose
        writes share one lock (SQLite) does several per write, so the aggregate worker takes that lock a few
        times per delivery rather than once per session."""
        for r in rollups:
            self.save_session_rollup(r.org_id, r.session_id, r.rollup_json, r.computed_ns)

    # -- pricing -------------------------------------------------------------------------------
    @abstractmethod
    def iter_priced(self) -> Iterator[tuple[str, str, str, LlmCallRecord]]:
        """(table, org_id, key, record-with-usage) of every stored span and LLM call that has a model."""

    @abstractmethod
    def update_computed_costs(self, table: str, rows: list[tuple[str, str, LlmCallRecord]]) -> None: ...

    # -- outbox (durable local bus) ------------------------------------------------------------
    @abstractmethod
    def enqueue_outbox(self, messages: list[tuple[str, bytes]]) -> None:
        """Append (topic, payload) messages to the outbox in one transaction."""

    @abstractmethod
    def claim_outbox(self, limit: int) -> list[OutboxMessage]: ...

    @abstractmethod
    def ack_outbox(self, ids: list[int]) -> None: ...

    @abstractmethod
    def outbox_backlog(self) -> int: ...

    def last_write_ns(self) -> int | None:
        """When any process last committed a write to the store, where the adapter can tell at the cost of a
        system call; None where it cannot. The local worker defers the analytics export while requests keep
        writing (core.background_priority.defer_while_busy)."""
        return None

    @abstractmethod
    def close(self) -> None: ...
