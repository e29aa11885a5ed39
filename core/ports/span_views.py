"""SpanViewStore: the Store port's methods for the span_views API area (every method scoped to one org)."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from core.records import Links, SpanRecord, Usage

if TYPE_CHECKING:  # pydantic read models stay out of the ingest cold start
    from core.hierarchy.models import TaskSpanSummary
    from core.models import SpanQuery, SpanView, ToolCallView

CreateOutcome = Literal["created", "replayed", "conflict"]
ActivitySource = Literal["coordinator", "user_session", "claude_code", "gemini_cli"]


def span_change_payload(org_id: str, trace_ids: Iterable[str], session_ids: Iterable[str | None],
                        task_ids: Iterable[str | None], spans: int, keys: Iterable[tuple[str, str]] = ()) -> bytes:
    """The `telemetry-ingested` message of an API span write: the shape ingest publishes (core.ingest), naming
    every trace, session and task the write touched (before and after), so their aggregates are recomputed, and
    in `span_changes` the (trace_id, span_id) of every span written or deleted, so the analytics export copies
    their stored state (core.analytics_export)."""
    return json.dumps({
        "org_id": org_id,
        "signal": "traces",
        "session_ids": sorted({s for s in session_ids if s}),
        "trace_ids": sorted(set(trace_ids)),
        "task_ids": sorted({t for t in task_ids if t}),
        "counts": {"spans": spans, "events": 0, "llm_calls": 0, "tool_calls": 0, "metric_points": 0},
        SPAN_CHANGES: sorted({(t, s) for t, s in keys}),
    }, separators=(",", ":")).encode()


# The key of the changed spans' (trace_id, span_id) pairs in a span write's message.
SPAN_CHANGES = "span_changes"
# The key of the sessions whose spans a write changed (a hook giving them a workspace or links).
SPAN_SESSIONS = "span_sessions"


def span_record_of(row: Mapping[str, Any]) -> SpanRecord:
    """A SpanRecord from a stored span's columns (SQLite's row, Firestore's document: the same names)."""
    return SpanRecord(
        trace_id=row["trace_id"], span_id=row["span_id"], parent_span_id=row["parent_span_id"], name=row["name"],
        kind=row["kind"], status=row["status"], status_message=row["status_message"], start_ns=row["start_ns"],
        end_ns=row["end_ns"], session_id=row["session_id"], service_name=row["service_name"],
        source_type=row["source_type"], workspace=row["workspace"] or "",
        usage=Usage(model=row["model"], provider=row["provider"], tokens_in=row["tokens_in"],
                    tokens_out=row["tokens_out"], cache_read_tokens=row["cache_read_tokens"],
                    cache_creation_tokens=row["cache_creation_tokens"], reasoning_tokens=row["reasoning_tokens"],
                    provided_cost_usd=row["provided_cost_usd"], computed_cost_usd=row["computed_cost_usd"],
                    cache_savings_usd=row["cache_savings_usd"], unpriced=bool(row["unpriced"])),
        links=Links(task_id=row["task_id"], assignment_id=row["assignment_id"], chain_id=row["chain_id"],
                    stage_id=row["stage_id"], message_id=row["message_id"]),
        attributes_json=row["attributes"], resource_json=row["resource_attributes"], events_json=row["events"])


@dataclass(frozen=True, slots=True)
class SessionDigest:
    """What chat contexts and event-queue items need of a session besides its totals."""

    first_prompt: str | None = None
    has_thinking: bool = False
    turn_count: int = 0


@dataclass(slots=True)
class SessionActivity:
    """A session as an event-queue item: identity, link to a task/assignment, and its LLM-call totals."""

    session_id: str
    source_type: str
    service_name: str | None
    workspace: str | None
    first_seen_ns: int
    last_seen_ns: int
    task_id: str | None = None
    assignment_id: str | None = None
    turn_count: int = 0
    cost_usd: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    llm_duration_ms: float = 0.0
    model: str | None = None
    provider: str | None = None
    first_prompt: str | None = None
    models: list[str] = field(default_factory=list)


class SpanViewStore(ABC):
    """Span writes of the JSON API and the reads behind span, trace, task and session hierarchies.

    Span writes (create, replace, delete, add an event) each run in one transaction that also enqueues a
    `telemetry-ingested` outbox message (see ``span_change_payload``) naming what changed, so the aggregate
    worker recomputes the tasks and sessions involved from the stored facts. Spans are addressed by
    (trace_id, span_id); ``find_span`` resolves an API span id alone. "Lite" reads leave the attribute blobs
    (attributes, resource_attributes, events) empty and never read them."""

    # -- span writes ---------------------------------------------------------------------------------------
    @abstractmethod
    def create_span(self, org_id: str, span: SpanRecord) -> CreateOutcome:
        """Insert a span. An identical span already stored is a replay (nothing changes, nothing is
        enqueued); a different one under the same key is a conflict (nothing changes)."""

    @abstractmethod
    def replace_span(self, org_id: str, span: SpanRecord) -> bool:
        """Overwrite the span stored under (span.trace_id, span.span_id); False when there is none."""

    @abstractmethod
    def delete_span(self, org_id: str, trace_id: str, span_id: str) -> bool: ...

    @abstractmethod
    def append_span_event(self, org_id: str, trace_id: str, span_id: str, event: dict[str, Any]) -> int | None:
        """Append an event to the span's events; its 1-based position, or None when there is no such span."""

    # -- span reads ----------------------------------------------------------------------------------------
    @abstractmethod
    def find_span(self, org_id: str, span_id: str) -> SpanView | None:
        """The span with this id (with its blobs); the latest-starting one if several traces reuse the id.
        Ingested spans are found once the aggregate worker indexed their trace (index_span_ids)."""

    @abstractmethod
    def span_records(self, org_id: str, keys: list[tuple[str, str]]) -> list[SpanRecord]:
        """The stored spans of these (trace_id, span_id) keys, as records (keys with no span are left out)."""

    @abstractmethod
    def index_span_ids(self, org_id: str, trace_ids: list[str]) -> None:
        """Make the spans of these traces findable by span id alone (idempotent)."""

    @abstractmethod
    def list_spans_lite(self, org_id: str, q: SpanQuery) -> list[SpanView]:
        """``list_spans`` without the blobs: newest first, the seed's filters."""

    @abstractmethod
    def spans_of_traces(self, org_id: str, trace_ids: list[str]) -> list[SpanView]:
        """Every span of these traces (lite), by start time."""

    @abstractmethod
    def task_spans(self, org_id: str, task_id: str, limit: int = 10_000) -> list[SpanView]:
        """Spans linked to the task (lite), by start time, at most ``limit``."""

    @abstractmethod
    def session_spans(self, org_id: str, session_id: str, limit: int = 10_000) -> list[SpanView]:
        """Spans of the session (lite), by start time, at most ``limit``."""

    @abstractmethod
    def exec_spans(self, org_id: str, names: list[str], limit: int) -> list[SpanView]:
        """The newest spans with one of these names (with their blobs), newest first."""

    @abstractmethod
    def task_span_summary(self, org_id: str, task_id: str, top: int = 10) -> TaskSpanSummary | None:
        """Counts, tokens, cost, summed duration, time range and the ``top`` span names of the task's spans;
        None when the task has no spans."""

    @abstractmethod
    def task_sessions(self, org_id: str, task_id: str) -> dict[str, str | None]:
        """Sessions linked to the task (by an execute span or by their spans): session_id -> assignment_id."""

    # -- tool calls and sessions ---------------------------------------------------------------------------
    @abstractmethod
    def tool_calls_of_spans(self, org_id: str, keys: list[tuple[str, str]], with_result: bool = False
                            ) -> dict[tuple[str, str], ToolCallView]:
        """Tool calls recorded by these (trace_id, span_id) spans; their results (often large) only
        ``with_result``."""

    @abstractmethod
    def session_has_unrecorded_calls(self, org_id: str, session_id: str) -> bool:
        """Whether the session has an LLM call or a tool call that names no span (known from log events only)."""

    @abstractmethod
    def session_tool_calls_lite(self, org_id: str, session_id: str) -> list[ToolCallView]:
        """The session's tool calls by time, without their results."""

    @abstractmethod
    def tool_call_near(self, org_id: str, session_id: str, tool_name: str, time_ns: int,
                       window_ns: int = 300 * 10**9) -> ToolCallView | None:
        """The session's call of ``tool_name`` closest in time to ``time_ns`` (within the window)."""

    @abstractmethod
    def session_digests(self, org_id: str, session_ids: list[str]) -> dict[str, SessionDigest]:
        """First user prompt, whether any LLM call reasoned, and the LLM-call count of each known session."""

    @abstractmethod
    def activity_sessions(self, org_id: str, source: ActivitySource | None, workspace: str | None, limit: int,
                          offset: int) -> list[SessionActivity]:
        """Sessions with at least one LLM call, most recently active first.

        ``source``: coordinator = linked to a task or assignment, user_session = not linked, claude_code /
        gemini_cli = the session's source type. ``workspace``: a path (exact or contained), "unknown" or
        "No Workspace" (no workspace), "coordinator_worktrees" (worktree directories)."""
