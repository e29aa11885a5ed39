"""Work that yields the CPU to request handling: one thread at the lowest scheduling priority, when enabled."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import TypeVar

from core.thread_pool import LazyPool

log = logging.getLogger(__name__)
T = TypeVar("T")

_enabled = False
# Writes this far apart or more count as a pause in the requests (a busy exporter posts every few milliseconds).
QUIET_S = 0.1


def enable() -> None:
    """From now on `run` executes on the background thread (the local stack's worker process calls this).

    The export to embedded ClickHouse costs about as much CPU as ingest itself: at equal priority a busy worker
    took a whole core from the two request processes, halving ingest throughput. The outbox keeps every message
    until it is delivered, so under a burst the deliveries (the aggregates wait on the export of the one before)
    lag, `GET /api/observatory/ops/status` shows the backlog, and catch up once requests pause. Only the export
    runs there: the drain loop's SQLite writes (aggregates, acks) hold the store's write lock, and a starved lock
    holder would stall every request waiting for it."""
    global _enabled
    _enabled = True


def run(call: Callable[[], T]) -> T:
    """``call()``, on the background thread when enabled (its threads, such as the ClickHouse insert pools,
    inherit the priority), else in the caller."""
    if not _enabled:
        return call()
    return _pool.submit(call).result()


def defer_while_busy(last_write_ns: Callable[[], int | None], max_s: float, quiet_s: float = QUIET_S) -> None:
    """When enabled, wait until the store has seen no write for ``quiet_s`` (the requests paused), but at most
    ``max_s``: that bounds the analytics' lag behind a store that never pauses.

    The lowest priority keeps the export off a core a request wants, but not out of its way: run on the other core
    (or the other hyperthread) while requests are served, the engine's compression and merges slowed each request's
    own work by about half (the shared caches and memory). Under steady ingest the export then runs in bursts, one
    delivery every ``max_s``, and catches up in the pauses."""
    if not _enabled or max_s <= 0:
        return
    deadline = time.monotonic() + max_s
    last = last_write_ns()
    while last is not None and time.monotonic() < deadline:
        # The write times are the wall clock's: a store quiet for the window already is not waited on.
        time.sleep(max(0.0, min(quiet_s - (time.time_ns() - last) / 1e9, deadline - time.monotonic())))
        now = last_write_ns()
        if now == last:
            return
        last = now


def _lowest_priority() -> None:
    # Linux scheduling policies are per thread: SCHED_IDLE runs this thread only on CPU time nothing else wants.
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux: the lowest nice value instead
        try:
            os.nice(19)
        except OSError:
            log.info("background work runs at normal priority (the platform refused a lower one)")


_pool = LazyPool("background", 1, initializer=_lowest_priority)
