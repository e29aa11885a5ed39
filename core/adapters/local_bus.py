"""In-process durable bus: messages sit in the store's outbox until a background thread delivers them."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from core.ports.bus import Bus, Handler
from core.ports.store import OutboxMessage, Store

log = logging.getLogger(__name__)


class OutboxBus(Bus):
    """Delivers outbox rows to subscribed handlers, at least once: a row is deleted only after every
    handler returned. A crash between ingest and delivery loses nothing; handlers are idempotent."""

    def __init__(self, store: Store, poll_s: float = 0.5, batch: int = 100) -> None:
        self._store = store
        self._poll_s = poll_s
        self._batch = batch
        self._handlers: dict[str, list[Handler]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def subscribe(self, topic: str, handler: Handler) -> None:
        self._handlers.setdefault(topic, []).append(handler)

    def publish(self, topic: str, payload: bytes) -> None:
        self._store.enqueue_outbox([(topic, payload)])

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="outbox-drainer", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def drain(self) -> int:
        """Deliver everything pending now; returns how many messages were delivered."""
        delivered = 0
        while True:
            messages = self._store.claim_outbox(self._batch)
            if not messages:
                return delivered
            by_topic: dict[str, list[OutboxMessage]] = {}
            for message in messages:
                by_topic.setdefault(message.topic, []).append(message)
            done: list[int] = []
            for topic, group in by_topic.items():
                try:
                    for handler in self._handlers.get(topic, []):
                        handler([m.payload for m in group])
                except Exception:  # keep the rows: they are retried on the next pass
                    log.exception("outbox delivery of %d message(s) on %s failed; will retry", len(group), topic)
                    continue
                done += [m.id for m in group]
            self._store.ack_outbox(done)
            delivered += len(done)
            if len(done) < len(messages):
                return delivered

    def _run(self) -> None:
        self.run_until(lambda: False)

    def run_until(self, done: Callable[[], bool]) -> None:
        """Drain every poll interval until `stop()` or `done()` (checked at least every second); the loop of
        the drainer thread and of `observatory worker`."""
        next_drain = time.monotonic() + self._poll_s
        while not self._stop.is_set() and not done():
            # Under load, waiting the whole interval lets one pass coalesce many batches.
            self._stop.wait(min(1.0, max(0.0, next_drain - time.monotonic())))
            if time.monotonic() < next_drain or self._stop.is_set():
                continue
            try:
                self.drain()
            except Exception:
                log.exception("outbox drain failed")
            next_drain = time.monotonic() + self._poll_s
