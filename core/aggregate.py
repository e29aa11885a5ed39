"""The aggregate worker's logic: recompute, from facts, the rollups of every session a batch touched."""

from __future__ import annotations

import json
import logging
import time

from core.ports.store import Store
from core.pricing import PriceTable
from core.sessions import session_summary

log = logging.getLogger(__name__)


def handle_ingested(store: Store, prices: PriceTable, payload: bytes) -> int:
    """One recompute per session per message; safe under redelivery (a recompute is a pure function of
    the stored facts, and an older result never overwrites a newer one). Returns sessions recomputed."""
    try:
        message = json.loads(payload)
        org_id = message["org_id"]
        session_ids = list(message.get("session_ids") or [])
    except (ValueError, KeyError, TypeError):
        log.error("dropping malformed telemetry-ingested message: %r", payload[:200])
        return 0
    for session_id in session_ids:
        computed_ns = time.time_ns()
        summary = session_summary(store, prices, org_id, session_id)
        if summary is not None:
            store.save_session_rollup(org_id, session_id, summary.model_dump_json(), computed_ns)
    return len(session_ids)
