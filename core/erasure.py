"""Session erasure: remove a session and every fact recorded for it, scoped to the caller's org."""

from __future__ import annotations

import json
import logging
import time

from core.errors import NotFound
from core.ports.bus import TELEMETRY_INGESTED
from core.ports.store import Store

log = logging.getLogger(__name__)

# The `signal` of the message an erasure publishes (the analytics export erases the session on it).
ERASURE_SIGNAL = "erasure"


def purge_session(store: Store, org_id: str, session_id: str) -> dict[str, int]:
    """Erase one session in one transaction; NotFound when the org recorded nothing for it.

    The erasure publishes the same message as ingest (with the session, its traces and tasks), so the
    workers recompute the aggregates that counted the erased facts (a task's totals); only counts are
    logged: the erased content must not survive in the logs."""

    def notice(trace_ids: list[str], task_ids: list[str], counts: dict[str, int]) -> list[tuple[str, bytes]]:
        payload = {"org_id": org_id, "signal": ERASURE_SIGNAL, "session_ids": [session_id], "trace_ids": trace_ids,
                   "task_ids": task_ids, "counts": counts, "erased_ns": time.time_ns()}
        return [(TELEMETRY_INGESTED, json.dumps(payload, separators=(",", ":")).encode())]

    counts = store.purge_session(org_id, session_id, notice)
    if not any(counts.values()):
        raise NotFound(f"session {session_id} not found")
    log.info("purged session %s of org %s: rows deleted %s", session_id, org_id, counts)
    return counts
