"""LazyPool: a bounded pool of long-lived threads, started on first use, each prepared by an initializer."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class LazyPool:
    """Threads are started on the first submit, not at import: a cold start that never submits pays nothing."""

    def __init__(self, name: str, workers: int, initializer: Callable[[], None] | None = None) -> None:
        self._name, self._workers, self._initializer = name, workers, initializer
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix=self._name,
                                                    initializer=self._initializer)
        return self._executor.submit(fn)
