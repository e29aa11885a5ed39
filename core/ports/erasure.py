"""ErasureStore: the Store port's methods for the erasure API area (every method scoped to one org)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

# The tables a session's erasure touches, in the order the counts are reported.
PURGED_TABLES = ("spans", "llm_calls", "tool_calls", "events", "metric_points", "sessions", "session_links")

# Given the erased spans' (trace ids, task ids) and the counts, the outbox messages to enqueue with the erasure.
PurgeNotice = Callable[[list[str], list[str], dict[str, int]], list[tuple[str, bytes]]]


class ErasureStore(ABC):
    @abstractmethod
    def purge_session(self, org_id: str, session_id: str, notice: PurgeNotice | None = None) -> dict[str, int]:
        """Delete, in one transaction, everything the org recorded for one session: its spans, LLM calls, tool
        calls (also those known only by a span of the session), events, metric points, the session and its
        task link. Returns the rows deleted per table (keys: PURGED_TABLES); all zero when nothing existed.
        Another org's rows, even under the same session id, are never touched.

        ``notice`` (called only when something was deleted) builds outbox messages that are enqueued in the
        same transaction, so the aggregates over the erased facts are recomputed exactly when they go."""
