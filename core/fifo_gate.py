"""FifoGate: at most N threads inside at once; the rest enter in the order they arrived."""

from __future__ import annotations

import threading
from collections import deque


class FifoGate:
    """A counting gate that is fair: a waiting thread gets the next free place before any later arrival (a
    semaphore wakes whichever waiter the scheduler picks, so under steady load one request can wait many turns)."""

    def __init__(self, places: int) -> None:
        if places < 1:
            raise ValueError(f"a gate needs at least one place, got {places}")
        self._free = places
        self._lock = threading.Lock()
        self._waiting: deque[threading.Lock] = deque()

    def __enter__(self) -> None:
        with self._lock:
            if self._free and not self._waiting:
                self._free -= 1
                return
            turn = threading.Lock()
            turn.acquire()
            self._waiting.append(turn)
        turn.acquire()  # released by the holder that hands its place over

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().release()  # the place passes straight to the oldest waiter
            else:
                self._free += 1
