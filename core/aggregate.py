"""The aggregate worker's logic: recompute, from facts, the rollups of every session a batch touched."""

from __future__ import annotations

import json
import logging
import time

from core.ports.store import Store
from core.pricing import PriceTable
from core.sessions import session_summary

log = logging.getLogger(__name__)


def handle_ingested(store: Store, prices: PriceTable, payloads: list[bytes]) -> int:
    """One recompute per touched session per delivery; safe under redelivery (a recompute is a pure function
    of the stored facts, and an older result never overwrites a newer one). Returns sessions recomputed."""
    touched: set[tuple[str, str]] = set()
    for payload in payloads:
        try:
            message = json.loads(payload)
            touched.update((message["org_id"], s) for s in message.get("session_ids") or [])
        except (ValueError, KeyError, TypeError):
            log.error("dropping malformed telemetry-ingested message: %r", payload[:200])
    for org_id, session_id in sorted(touched):
        computed_ns = time.time_ns()
        summary = session_summary(store, prices, org_id, session_id)
        if summary is not None:
            store.save_session_rollup(org_id, session_id, summary.model_dump_json(), computed_ns)
    return len(touched)
