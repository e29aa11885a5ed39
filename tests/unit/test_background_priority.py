"""Background work: the export runs on a thread the scheduler serves only when nothing else wants the CPU."""

from __future__ import annotations

import os
import threading

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
