"""The Bus port: publish pipeline messages to topics; handlers subscribe by topic."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

TELEMETRY_INGESTED = "telemetry-ingested"

# A handler takes the payloads delivered together (one for Pub/Sub pushes, a drained batch locally), so it
# can do one recompute per entity per delivery.
Handler = Callable[[list[bytes]], None]


class Bus(ABC):
    @abstractmethod
    def subscribe(self, topic: str, handler: Handler) -> None: ...

    @abstractmethod
    def publish(self, topic: str, payload: bytes) -> None:
        """Publish outside an ingest transaction (ingest enqueues through the store's outbox instead)."""
