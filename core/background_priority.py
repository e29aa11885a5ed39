"""Work that yields the CPU to request handling: one thread at the lowest scheduling priority, when enabled."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TypeVar

from core.thread_pool import LazyPool

log = logging.getLogger(__name__)
T = TypeVar("T")

_enabled = False


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
