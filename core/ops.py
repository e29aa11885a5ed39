"""The ops status: outbox backlog, aggregate lag, dead letters, rejected items by reason, store health."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from core.ports.store import Store


class StoreHealthView(BaseModel):
    """The store's health band (`ok`, `warn`, `cleanup`, `danger`: the seed's CheckHealth thresholds)."""

    backend: str
    status: str = Field(description="ok | warn | cleanup | danger")
    message: str
    size_bytes: int | None = Field(None, description="bytes on disk of the store's files (file-backed stores)")
    files: dict[str, int] = Field(default_factory=dict, description="bytes per file")
    counts: dict[str, int] = Field(default_factory=dict, description="rows or documents per collection")


class OpsStatus(BaseModel):
    """Pipeline backlog and dead letters are the deployment's (the outbox carries no org); rejected items are
    the caller's org's."""

    model_config = ConfigDict(frozen=True)
    outbox_backlog: int = Field(description="messages enqueued and not yet delivered to the workers")
    oldest_undelivered_at: datetime | None = Field(None, description="when the oldest undelivered one was enqueued")
    aggregate_lag_seconds: float = Field(description="age of the oldest undelivered message (0 when none)")
    dead_letters: int = Field(description="messages the workers gave up on (`observatory dlq list`)")
    rejected: dict[str, int] = Field(description="items rejected at ingest, by reason")
    rejected_total: int
    store: StoreHealthView


def ops_status(store: Store, org_id: str, now_ns: int | None = None) -> OpsStatus:
    now = time.time_ns() if now_ns is None else now_ns
    oldest = store.oldest_outbox_ns()
    rejected = store.rejection_counts(org_id)
    health = store.health()
    return OpsStatus(
        outbox_backlog=store.outbox_backlog(),
        oldest_undelivered_at=None if oldest is None else datetime.fromtimestamp(oldest / 1e9, UTC),
        aggregate_lag_seconds=0.0 if oldest is None else max(0.0, (now - oldest) / 1e9),
        dead_letters=store.dead_letter_count(),
        rejected=rejected,
        rejected_total=sum(rejected.values()),
        store=StoreHealthView(backend=health.backend, status=health.status, message=health.message,
                              size_bytes=health.size_bytes, files=dict(health.files), counts=dict(health.counts)),
    )
