"""Background work: the export runs on a thread the scheduler serves only when nothing else wants the CPU."""

from __future__ import annotations

import os
import threading
import time

import pytest

from core import background_priority
from core.thread_pool import LazyPool


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(background_priority, "_enabled", False)
    monkeypatch.setattr(background_priority, "_pool", LazyPool("background", 1, background_priority._lowest_priority))


def _where() -> tuple[str, int]:
    return threading.current_thread().name, os.sched_getscheduler(0)


def test_work_runs_in_the_caller_until_enabled(fresh: None) -> None:
    assert background_priority.run(_where) == (threading.current_thread().name, os.sched_getscheduler(0))


def test_enabled_work_runs_at_idle_priority_and_the_caller_keeps_its_own(fresh: None) -> None:
    background_priority.enable()
    name, policy = background_priority.run(_where)
    assert name.startswith("background") and policy == os.SCHED_IDLE
    inherited = background_priority.run(_where_a_new_thread_runs)
    assert inherited[1] == os.SCHED_IDLE  # threads the work starts (the ClickHouse insert pools) inherit it
    assert os.sched_getscheduler(0) == os.SCHED_OTHER
    with pytest.raises(ZeroDivisionError):  # a failure reaches the caller
        background_priority.run(lambda: 1 // 0)


def _where_a_new_thread_runs() -> tuple[str, int]:
    out: list[tuple[str, int]] = []
    thread = threading.Thread(target=lambda: out.append(_where()))
    thread.start()
    thread.join()
    return out[0]


class _Writes:
    """A store's last write time: advancing on each of the first ``busy`` looks (requests still writing), then
    still."""

    def __init__(self, busy: int) -> None:
        self.busy, self.looks = busy, 0

    def __call__(self) -> int:
        self.looks += 1
        return time.time_ns() if self.looks <= self.busy else 1


def test_the_export_waits_for_a_pause_in_the_writes(fresh: None) -> None:
    background_priority.enable()
    writes = _Writes(busy=4)
    background_priority.defer_while_busy(writes, max_s=60, quiet_s=0.01)
    assert writes.looks == 6  # four busy looks, then one still: two equal looks in a row are the pause


def test_the_export_waits_no_longer_than_its_bound(fresh: None) -> None:
    background_priority.enable()
    writes = _Writes(busy=10**9)  # never pauses
    background_priority.defer_while_busy(writes, max_s=0.2, quiet_s=0.01)
    assert 2 < writes.looks < 10**9


def test_the_export_does_not_wait_where_nothing_yields(fresh: None) -> None:
    writes = _Writes(busy=10**9)
    background_priority.defer_while_busy(writes, max_s=60)  # not enabled: the caller's own priority
    background_priority.enable()
    background_priority.defer_while_busy(writes, max_s=0)  # waiting switched off
    background_priority.defer_while_busy(lambda: None, max_s=60)  # a store that cannot tell
    assert writes.looks == 0
