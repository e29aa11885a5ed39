"""The maintenance port: retention deletes, store health, the local outbox's dead letters and ops counters."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

# The kinds of stored rows retention deletes (the event log is dropped through EventLogStore.drop_events_before).
SPANS = "spans"
METRIC_POINTS = "metric_points"
EVENTS = "events"
SESSIONS = "sessions"
LLM_CALLS = "llm_calls"
TOOL_CALLS = "tool_calls"
MESSAGES = "messages"
RETENTION_KINDS: tuple[str, ...] = (SPANS, METRIC_POINTS, EVENTS, SESSIONS, LLM_CALLS, TOOL_CALLS, MESSAGES)

# Store health levels (the seed's CheckHealth bands): ok < warn < cleanup < danger.
HEALTH_OK = "ok"
HEALTH_WARN = "warn"
HEALTH_CLEANUP = "cleanup"
HEALTH_DANGER = "danger"


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """``size_bytes``: the store's files on disk (None where the backend has no files); ``counts``: rows or
    documents per collection where the backend can count them cheaply; ``message`` says what to do."""

    backend: str
    status: str
    message: str
    size_bytes: int | None = None
    files: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An outbox message the local bus gave up on: after too many attempts or on a permanent error."""

    id: int
    topic: str
    payload: bytes
    reason: str
    attempts: int
    enqueued_ns: int
    failed_ns: int


class MaintenanceStore(ABC):
    """Deletes past TTL, store health, and the local bus's attempt counting and dead letters. Retention and
    health are global jobs (every org's rows age alike); the outbox carries no org."""

    # -- retention --------------------------------------------------------------------------------
    @abstractmethod
    def delete_expired(self, kind: str, cutoff_ns: int, chunk: int = 5000) -> int:
        """Delete rows of ``kind`` (one of RETENTION_KINDS) older than ``cutoff_ns``, ``chunk`` rows per
        transaction; returns how many were deleted. Deleting spans removes their id lookups too; deleting
        sessions removes their task links. Unknown kinds raise ValueError."""

    @abstractmethod
    def health(self) -> StoreHealth:
        """The store's size against the warn / cleanup / danger thresholds. Never destructive."""

    # -- outbox dead letters ----------------------------------------------------------------------
    @abstractmethod
    def record_outbox_failure(self, ids: list[int], reason: str, max_attempts: int) -> int:
        """Count one failed delivery of each message; those that reached ``max_attempts`` move to the dead
        letters with ``reason``. Returns how many moved."""

    @abstractmethod
    def dead_letter_outbox(self, ids: list[int], reason: str) -> int:
        """Move these outbox messages to the dead letters now (a permanent error); returns how many moved."""

    @abstractmethod
    def list_dead_letters(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]: ...

    @abstractmethod
    def dead_letter_count(self) -> int: ...

    @abstractmethod
    def replay_dead_letters(self, ids: list[int] | None = None) -> int:
        """Re-enqueue dead letters (all when ``ids`` is None) into the outbox with a fresh attempt count and
        remove them; returns how many were replayed."""

    # -- ops counters -----------------------------------------------------------------------------
    @abstractmethod
    def oldest_outbox_ns(self) -> int | None:
        """When the oldest undelivered outbox message was enqueued (None when the outbox is empty)."""

    @abstractmethod
    def rejection_counts(self, org_id: str) -> dict[str, int]:
        """Items rejected at ingest for this org, summed by reason."""


_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class SizeThresholds:
    """The seed's CheckHealth bands for a file-backed store: below ``warn`` ok; ``warn``..``cleanup`` warn (log
    only); ``cleanup``..``danger`` run retention; above ``danger`` a loud warning and nothing deleted (the
    operator stops the server and VACUUMs: deleting a database on size destroyed data once)."""

    warn: int = 200 * _MIB
    cleanup: int = 500 * _MIB
    danger: int = 2048 * _MIB

    def classify(self, size_bytes: int) -> tuple[str, str]:
        """(status, message) for a store of this size."""
        mib = size_bytes / _MIB
        if size_bytes > self.danger:
            return HEALTH_DANGER, (f"store is {mib:.0f} MiB, above {self.danger // _MIB} MiB: stop the server, "
                                   "run retention and VACUUM; nothing is deleted automatically")
        if size_bytes >= self.cleanup:
            return HEALTH_CLEANUP, f"store is {mib:.0f} MiB, above {self.cleanup // _MIB} MiB: run retention"
        if size_bytes >= self.warn:
            return HEALTH_WARN, f"store is {mib:.0f} MiB, above {self.warn // _MIB} MiB"
        return HEALTH_OK, f"store is {mib:.1f} MiB"
