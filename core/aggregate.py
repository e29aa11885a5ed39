"""The aggregate worker's logic: recompute, from facts, the rollups of every session and task a batch touched
(and index its spans by id)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from core.ports.store import SessionRollup, Store
from core.pricing import PriceTable
from core.record_codec import message_header
from core.sessions import session_summary

log = logging.getLogger(__name__)


# Called once per delivery with every (org, session, rollup JSON, computed_ns) recomputed: the analytics export.
RollupSink = Callable[[list[SessionRollup]], None]


def handle_ingested(store: Store, prices: PriceTable, payloads: list[bytes], rollups: RollupSink | None = None
                    ) -> int:
    """One recompute per touched session and per touched task (with its agent assignments) per delivery; safe
    under redelivery (a recompute is a pure function of the stored facts, and an older session result never
    overwrites a newer one). A recompute that changed a session rollup or a task's totals appends one
    metrics.updated in the store's write; a redelivery recomputes the same values and appends nothing.
    Returns how many sessions and tasks were recomputed."""
    touched: set[tuple[str, str]] = set()
    tasks: set[tuple[str, str]] = set()
    traces: dict[str, set[str]] = {}
    for payload in payloads:
        try:
            message = message_header(payload)
            org_id = message["org_id"]
            touched.update((org_id, s) for s in message.get("session_ids") or [])
            tasks.update((org_id, t) for t in message.get("task_ids") or [])
            traces.setdefault(org_id, set()).update(message.get("trace_ids") or [])
        except (ValueError, KeyError, TypeError):
            log.error("dropping malformed telemetry-ingested message: %r", payload[:200])
    for org_id, trace_ids in sorted(traces.items()):
        if trace_ids:
            store.index_span_ids(org_id, sorted(trace_ids))
    recomputed: list[SessionRollup] = []
    for org_id, session_id in sorted(touched):
        computed_ns = time.time_ns()
        summary = session_summary(store, prices, org_id, session_id)
        if summary is not None:
            recomputed.append(SessionRollup(org_id, session_id, summary.model_dump_json(), computed_ns))
    # Computed first and saved in one write: the worker holds the store's write lock once per delivery.
    store.save_session_rollups(recomputed)
    if rollups is not None and recomputed:
        rollups(recomputed)
    for org_id, task_id in sorted(tasks):
        recompute_task(store, org_id, task_id)
    return len(touched) + len(tasks)


def recompute_task(store: Store, org_id: str, task_id: str) -> None:
    """A task's and its assignments' totals from their spans; spans may name a task not (yet) in the
    catalog, which is then skipped: creating it later and recalculating picks its spans up."""
    for assignment in store.list_task_assignments(org_id, task_id):
        store.recalculate_assignment(org_id, assignment.id)
    store.recalculate_task(org_id, task_id)
