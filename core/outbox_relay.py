"""Relays the store's outbox to a remote bus (Pub/Sub) right after a write: the outbox row is the durable record
written with the facts, the publish its delivery. A message is acknowledged only once published, so a failed
publish loses nothing: it raises StorageUnavailable (ingest answers 503 + Retry-After; the client's retry is
idempotent) and the row waits for the next relay."""

from __future__ import annotations

import logging

from core.ports.bus import Bus
from core.ports.store import Store

log = logging.getLogger(__name__)


class OutboxRelay:
    def __init__(self, store: Store, bus: Bus, batch: int = 100) -> None:
        self._store = store
        self._bus = bus
        self._batch = batch

    def relay(self) -> int:
        """Publish everything pending (this request's message and any a failed relay left); returns the count."""
        sent = 0
        while True:
            messages = self._store.claim_outbox(self._batch)
            if not messages:
                return sent
            for message in messages:
                self._bus.publish(message.topic, message.payload)  # raises StorageUnavailable
                self._store.ack_outbox([message.id])
                sent += 1
