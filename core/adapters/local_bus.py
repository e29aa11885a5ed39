"""In-process durable bus: messages sit in the store's outbox until a background thread delivers them."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from core.errors import InvalidPayload
from core.ports.bus import Bus, Handler
from core.ports.store import OutboxMessage, Store

log = logging.getLogger(__name__)

# As the cloud subscriptions' dead-letter policy (DESIGN §7: at least 5 delivery attempts).
MAX_ATTEMPTS = 5


def is_permanent(exc: BaseException) -> bool:
    """A message that can never succeed: bad data (InvalidPayload) or an error marked ``permanent = True``
    (core.errors.PermanentError). Anything else is transient and retried."""
    return isinstance(exc, InvalidPayload) or getattr(exc, "permanent", False) is True


class OutboxBus(Bus):
    """Delivers outbox rows to subscribed handlers, at least once: a row is deleted only after every
    handler returned. A crash between ingest and delivery loses nothing; handlers are idempotent. A message
    that fails ``max_attempts`` times, or once with a permanent error, moves to the dead letters (as the
    cloud's subscriptions do), where `observatory dlq list|replay` finds it."""

    def __init__(self, store: Store, poll_s: float = 0.5, batch: int = 100,
                 max_attempts: int = MAX_ATTEMPTS) -> None:
        self._store = store
        self._max_attempts = max_attempts
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
            failed = False
            for topic, group in by_topic.items():
                if len(group) > 1:
                    try:
                        self._deliver(topic, group)
                        done += [m.id for m in group]
                        continue
                    except Exception:
                        # One message may be poisoning its batch: deliver each alone so the healthy ones pass
                        # (handlers are idempotent: a second delivery to a handler that already ran is harmless).
                        log.warning("outbox delivery of %d messages on %s failed; delivering one by one",
                                    len(group), topic, exc_info=True)
                ok = self._deliver_singly(topic, group)
                failed = failed or len(ok) < len(group)
                done += ok
            self._store.ack_outbox(done)
            delivered += len(done)
            if failed:  # the rest waits for the next pass (the failed rows are retried then)
                return delivered

    def _deliver(self, topic: str, group: list[OutboxMessage]) -> None:
        for handler in self._handlers.get(topic, []):
            handler([m.payload for m in group])

    def _deliver_singly(self, topic: str, group: list[OutboxMessage]) -> list[int]:
        """Deliver each message alone; count a failed one's attempt, dead-lettering it after
        ``max_attempts`` or at once on a permanent error. Returns the ids delivered."""
        ok: list[int] = []
        for message in group:
            try:
                self._deliver(topic, [message])
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"[:1000]
                if is_permanent(exc):
                    self._store.dead_letter_outbox([message.id], f"permanent: {reason}")
                    log.error("outbox message %d on %s dead-lettered (permanent error): %s",
                              message.id, topic, reason)
                elif self._store.record_outbox_failure([message.id], reason, self._max_attempts):
                    log.error("outbox message %d on %s dead-lettered after %d attempts: %s",
                              message.id, topic, self._max_attempts, reason)
                else:
                    log.exception("outbox message %d on %s failed; will retry", message.id, topic)
                continue
            ok.append(message.id)
        return ok

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
