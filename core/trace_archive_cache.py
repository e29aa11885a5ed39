"""A TTL cache of remote trace archives' answers, keyed per remote and query, to protect their quotas."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

from core.models import SpanView, TraceSummary
from core.ports.trace_archive import ArchiveQuery, TraceArchive

T = TypeVar("T")
Clock = Callable[[], float]


class TraceArchiveCache:
    """Answers kept for ``ttl_s`` seconds of ``clock``, at most ``max_entries`` (least recently used go first).
    Failures are never kept: the next read asks the remote again."""

    def __init__(self, ttl_s: float = 60.0, clock: Clock = time.monotonic, max_entries: int = 512) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._max = max_entries
        self._entries: OrderedDict[Hashable, tuple[float, object]] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_load(self, key: Hashable, load: Callable[[], T]) -> T:
        now = self._clock()
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and now < hit[0]:
                self._entries.move_to_end(key)
                return hit[1]  # type: ignore[return-value]  # stored by this same key's loader
        # Loaded outside the lock: a slow remote must not block reads of the others.
        value = load()
        if self.ttl_s > 0:
            with self._lock:
                self._entries[key] = (self._clock() + self.ttl_s, value)
                self._entries.move_to_end(key)
                while len(self._entries) > self._max:
                    self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class CachedTraceArchive(TraceArchive):
    """An archive whose answers go through the cache under (remote name, operation, query)."""

    def __init__(self, inner: TraceArchive, cache: TraceArchiveCache) -> None:
        super().__init__(inner.spec)
        self.inner = inner
        self.cache = cache
        self.kind = inner.kind  # type: ignore[misc]  # the wrapped remote's kind

    def list_traces(self, query: ArchiveQuery) -> list[TraceSummary]:
        return self.cache.get_or_load((self.name, "list", query), lambda: self.inner.list_traces(query))

    def get_trace(self, trace_id: str) -> list[SpanView]:
        return self.cache.get_or_load((self.name, "get", trace_id), lambda: self.inner.get_trace(trace_id))

    def close(self) -> None:
        self.inner.close()
