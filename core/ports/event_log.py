"""EventLogStore: the Store port's methods for the event_log API area (every method scoped to one org)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pydantic read models stay out of the ingest cold start
    from core.event_feed import ChangeEventView
    from core.events import ChangeEvent


class EventLogStore(ABC):
    """The log of state changes. Each event gets a sequence number from the store, increasing in commit order
    across every writer, so a reader that pages with `since` = the last number seen neither skips nor repeats.

    Writes of other areas append their events inside their own transaction (an adapter detail); the methods
    here append on their own and read."""

    @abstractmethod
    def append_events(self, org_id: str, events: list[ChangeEvent], dedup_key: str | None = None) -> int:
        """Append events in one transaction; with ``dedup_key`` a second append under the same key adds
        nothing. Returns how many were appended."""

    @abstractmethod
    def list_events(self, org_id: str, since: int, limit: int, types: Sequence[str] = (),
                    workspace_id: str | None = None, task_id: str | None = None) -> list[ChangeEventView]:
        """Events with a sequence number above ``since``, oldest first, matching every filter given
        (``types`` empty: any type)."""

    @abstractmethod
    def last_event_seq(self, org_id: str) -> int:
        """The highest sequence number of the org's events (0 when it has none): where a live tail starts."""

    @abstractmethod
    def drop_events_before(self, cutoff_ns: int) -> int:
        """Retention (every org): delete events created before ``cutoff_ns``; returns how many."""
