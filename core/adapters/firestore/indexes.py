"""Every composite index the Firestore adapter's queries need, as data (infrastructure reads this list), and the
rule deciding whether a query shape is served by them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Direction = Literal["ASCENDING", "DESCENDING"]


@dataclass(frozen=True, slots=True)
class Index:
    """A composite index of a collection (collection-id scope: the org's sub-collection)."""

    collection: str
    fields: tuple[tuple[str, Direction], ...]


@dataclass(frozen=True, slots=True)
class QueryShape:
    """What a query needs of indexes: its equality (and `in`) fields, and the field it ranges over or orders by."""

    collection: str
    equalities: tuple[str, ...]
    order: tuple[str, Direction] | None


def _by(collection: str, fields: tuple[str, ...], order: str, direction: Direction) -> list[Index]:
    return [Index(collection, ((f, "ASCENDING"), (order, direction))) for f in fields]


# Equality filters combine by index merging: one (filter field, order field) index per filter field serves any
# combination of those filters ordered by that field, instead of one index per combination.
SPAN_FILTERS = ("task_id", "trace_id", "assignment_id", "session_id", "provider", "model", "status",
                "workspace_key")
INDEXES: tuple[Index, ...] = (
    *_by("spans", SPAN_FILTERS, "start_ns", "DESCENDING"),
    Index("spans", (("trace_id", "ASCENDING"), ("start_ns", "ASCENDING"))),
    Index("llm_calls", (("session_id", "ASCENDING"), ("time_ns", "ASCENDING"))),
    Index("tool_calls", (("session_id", "ASCENDING"), ("time_ns", "ASCENDING"))),
    Index("events", (("session_id", "ASCENDING"), ("time_ns", "ASCENDING"))),
    Index("events", (("session_id", "ASCENDING"), ("name", "ASCENDING"), ("time_ns", "ASCENDING"))),
    *_by("metric_points", ("session_id", "name", "workspace"), "time_ns", "DESCENDING"),
    # The event log feed: each filter (type `in`, workspace, task) in sequence order, merged when combined.
    *_by("event_log", ("type", "workspace_id", "task_id"), "seq", "ASCENDING"),
    # Catalog listings: newest first (order_key), each filter merged when combined; a task's timeline.
    *_by("tasks", ("workspace_id", "status", "source_type", "parent_task_id"), "order_key", "ASCENDING"),
    *_by("messages", ("inbox", "status", "from_agent", "task_id"), "order_key", "ASCENDING"),
    Index("spans", (("task_id", "ASCENDING"), ("start_ns", "ASCENDING"))),
    # Insights: API errors of a window (event names `in`, time range); the other window scans are single-field.
    Index("events", (("name", "ASCENDING"), ("time_ns", "ASCENDING"))),
    # Chains: listings newest first (order_key, also the created_after range), stages awaiting approval oldest
    # first, eval stages newest first by each filter, a stage's spans by start time.
    *_by("execution_chains", ("status", "source_type", "workspace_id", "github_repo"), "order_key", "ASCENDING"),
    Index("chain_stages", (("status", "ASCENDING"), ("pending_key", "ASCENDING"))),
    *_by("chain_stages", ("chain_id", "eval_model", "eval_language", "eval_benchmark_id", "eval_condition",
                          "eval_mode", "eval_stdout_ok"), "eval_order", "ASCENDING"),
    Index("spans", (("stage_id", "ASCENDING"), ("start_ns", "ASCENDING"))),
    # Span views: a session's spans by start time, exec spans (names `in`) newest first, a session's calls of one
    # tool around a time.
    Index("spans", (("session_id", "ASCENDING"), ("start_ns", "ASCENDING"))),
    Index("spans", (("name", "ASCENDING"), ("start_ns", "DESCENDING"))),
    Index("tool_calls", (("session_id", "ASCENDING"), ("tool_name", "ASCENDING"), ("time_ns", "ASCENDING"))),
)


def covered(shape: QueryShape, indexes: tuple[Index, ...] = INDEXES) -> bool:
    """Whether Firestore can serve the query: automatic single-field indexes serve equality-only queries (merged)
    and a single field's own range/order; otherwise an exact composite index, or one (equality field, order)
    index per equality field (index merging)."""
    eq = tuple(f for f in shape.equalities if shape.order is None or f != shape.order[0])
    if shape.order is None or not eq:
        return True
    mine = [ix.fields for ix in indexes if ix.collection == shape.collection]
    if any(fields[-1] == shape.order and {f for f, _ in fields[:-1]} == set(eq) for fields in mine):
        return True
    return all(((f, "ASCENDING"), shape.order) in mine for f in eq)
