"""FifoGate: the bound on threads inside, entry in arrival order, and where ingest is gated by default."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from core.config import Settings
from core.fifo_gate import FifoGate


def _wait_until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_no_more_threads_inside_than_places() -> None:
    gate = FifoGate(2)
    inside = peak = 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal inside, peak
        with gate:
            with lock:
                inside += 1
                peak = max(peak, inside)
            time.sleep(0.005)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 2 and inside == 0


def test_waiters_enter_in_the_order_they_arrived() -> None:
    gate = FifoGate(1)
    entered: list[int] = []
    gate.__enter__()  # held, so every thread below waits

    def work(i: int) -> None:
        with gate:
            entered.append(i)

    threads = []
    for i in range(6):
        threads.append(threading.Thread(target=work, args=(i,)))
        threads[-1].start()
        _wait_until(lambda n=i + 1: len(gate._waiting) == n)  # queued before the next one starts
    gate.__exit__(None, None, None)
    for t in threads:
        t.join()
    assert entered == list(range(6))
    with gate:  # every place came back: the gate opens at once
        pass


def test_a_gate_needs_a_place() -> None:
    with pytest.raises(ValueError, match="at least one place"):
        FifoGate(0)


def test_ingest_is_gated_by_default_only_where_its_work_is_cpu() -> None:
    assert Settings.from_env({}).ingest_concurrency == 1  # SQLite and the local bus
    assert Settings.from_env({"OBSERVATORY_STORE": "firestore"}).ingest_concurrency == 0
    assert Settings.from_env({"OBSERVATORY_BUS": "pubsub"}).ingest_concurrency == 0
    assert Settings.from_env({"OBSERVATORY_INGEST_CONCURRENCY": "0"}).ingest_concurrency == 0
    assert Settings.from_env({"OBSERVATORY_STORE": "firestore", "OBSERVATORY_INGEST_CONCURRENCY": "3"}
                             ).ingest_concurrency == 3
    with pytest.raises(ValueError, match="OBSERVATORY_INGEST_CONCURRENCY must be zero or positive"):
        Settings.from_env({"OBSERVATORY_INGEST_CONCURRENCY": "-1"})
