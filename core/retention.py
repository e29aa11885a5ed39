"""Retention: delete stored rows past their TTL per kind, in chunks, and report counts and store health."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.ports.maintenance import (
    EVENTS,
    LLM_CALLS,
    MESSAGES,
    METRIC_POINTS,
    RETENTION_KINDS,
    SESSIONS,
    SPANS,
    TOOL_CALLS,
    StoreHealth,
)
from core.ports.store import Store

log = logging.getLogger(__name__)

EVENT_LOG = "event_log"
DAY_NS = 86_400 * 10**9

# DESIGN §7: spans, metric points and events (log events and the event log) 30 days; the rest 90 days.
DEFAULT_DAYS: dict[str, float] = {
    SPANS: 30, METRIC_POINTS: 30, EVENTS: 30, EVENT_LOG: 30,
    SESSIONS: 90, LLM_CALLS: 90, TOOL_CALLS: 90, MESSAGES: 90,
}
DEFAULT_CHUNK = 5000


def env_name(kind: str) -> str:
    """OBSERVATORY_RETENTION_<KIND>_DAYS, e.g. OBSERVATORY_RETENTION_METRIC_POINTS_DAYS."""
    return f"OBSERVATORY_RETENTION_{kind.upper()}_DAYS"


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """TTL in days per kind (0 keeps a kind forever) and the rows deleted per transaction.

    Environment: OBSERVATORY_RETENTION_{SPANS,METRIC_POINTS,EVENTS,SESSIONS,LLM_CALLS,TOOL_CALLS,MESSAGES}_DAYS;
    EVENTS covers log events and the event log unless OBSERVATORY_RETENTION_EVENT_LOG_DAYS is set;
    OBSERVATORY_RETENTION_CHUNK (default 5000)."""

    days: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_DAYS))
    chunk: int = DEFAULT_CHUNK

    def __post_init__(self) -> None:
        merged = {**DEFAULT_DAYS, **self.days}
        unknown = sorted(set(merged) - set(DEFAULT_DAYS))
        if unknown:
            raise ValueError(f"unknown retention kind(s): {', '.join(unknown)}")
        for kind, value in merged.items():
            if value < 0:
                raise ValueError(f"{env_name(kind)} must be >= 0 days, got {value}")
        if self.chunk < 1:
            raise ValueError(f"OBSERVATORY_RETENTION_CHUNK must be >= 1, got {self.chunk}")
        object.__setattr__(self, "days", merged)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RetentionPolicy:
        source = os.environ if env is None else env
        days: dict[str, float] = {}
        for kind in DEFAULT_DAYS:
            raw = source.get(env_name(kind), "").strip()
            if raw:
                try:
                    days[kind] = float(raw)
                except ValueError:
                    raise ValueError(f"{env_name(kind)} must be a number of days, got {raw!r}") from None
        if EVENT_LOG not in days and EVENTS in days:
            days[EVENT_LOG] = days[EVENTS]
        raw_chunk = source.get("OBSERVATORY_RETENTION_CHUNK", "").strip()
        try:
            chunk = int(raw_chunk) if raw_chunk else DEFAULT_CHUNK
        except ValueError:
            raise ValueError(f"OBSERVATORY_RETENTION_CHUNK must be an integer, got {raw_chunk!r}") from None
        return cls(days=days, chunk=chunk)

    def cutoff_ns(self, kind: str, now_ns: int) -> int | None:
        """Rows of ``kind`` older than this are expired; None when the kind is kept forever."""
        days = self.days[kind]
        return None if days == 0 else now_ns - int(days * DAY_NS)


@dataclass(frozen=True, slots=True)
class RetentionReport:
    deleted: dict[str, int]
    cutoffs_ns: dict[str, int]
    health: StoreHealth
    duration_s: float

    @property
    def total(self) -> int:
        return sum(self.deleted.values())

    def as_dict(self) -> dict[str, Any]:
        return {"deleted": dict(self.deleted), "total": self.total, "cutoffs_ns": dict(self.cutoffs_ns),
                "health": {"status": self.health.status, "message": self.health.message,
                           "size_bytes": self.health.size_bytes},
                "duration_s": round(self.duration_s, 3)}


def run_retention(store: Store, policy: RetentionPolicy | None = None, now_ns: int | None = None) -> RetentionReport:
    """Delete every kind's expired rows (all orgs) and the event log's; idempotent (a second run deletes
    nothing more); never deletes a database file. The store's health is checked before and after: a store
    in the danger band is reported loudly, and the deletes still run (they are never destructive beyond TTL)."""
    policy = policy or RetentionPolicy.from_env()
    now = time.time_ns() if now_ns is None else now_ns
    started = time.perf_counter()
    store.health()  # logs loudly when the store is oversized
    deleted: dict[str, int] = {}
    cutoffs: dict[str, int] = {}
    for kind in (*RETENTION_KINDS, EVENT_LOG):
        cutoff = policy.cutoff_ns(kind, now)
        if cutoff is None:
            continue
        cutoffs[kind] = cutoff
        if kind == EVENT_LOG:
            deleted[kind] = store.drop_events_before(cutoff)
        else:
            deleted[kind] = store.delete_expired(kind, cutoff, policy.chunk)
    health = store.health()
    report = RetentionReport(deleted, cutoffs, health, time.perf_counter() - started)
    log.info("retention deleted %d rows (%s); store %s",
             report.total, ", ".join(f"{k}={v}" for k, v in deleted.items()), health.status)
    return report
