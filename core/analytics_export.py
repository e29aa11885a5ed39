"""The export worker's logic: hand each `telemetry-ingested` batch to the Analytics port (history and sessions)."""

from __future__ import annotations

import json
import logging
from typing import Any

from core.agent_sessions.sync import export_telemetry_sessions
from core.errors import PermanentError
from core.ports.analytics import Analytics
from core.ports.fact_insights import SessionRollupRow
from core.record_codec import RECORD_KEYS, batch_from_message

log = logging.getLogger(__name__)


def _describe(message: dict[str, Any]) -> str:
    counts = message.get("counts")
    if isinstance(counts, dict):
        return ", ".join(f"{n} {kind}" for kind, n in counts.items() if n) or "nothing"
    return "a message"


def export_message(analytics: Analytics, message: dict[str, Any]) -> int:
    """Export one parsed pipeline message (core.workers.parse_org_message); returns the rows handed over.
    Messages without records (a hook's, an API span's: their producers name ids only) export nothing. Safe
    under redelivery: every analytics write is keyed, and ordered by the time the batch was stored."""
    if not analytics.configured:
        log.warning("analytics not configured: dropped export of %s for org %s (set OBSERVATORY_CLICKHOUSE_URL)",
                    _describe(message), message.get("org_id"))
        return 0
    if not any(message.get(key) for key in RECORD_KEYS):
        return 0
    batch = batch_from_message(message)
    stored_ns = message.get("stored_ns")
    if stored_ns is not None and not isinstance(stored_ns, int):
        raise PermanentError("stored_ns is not an integer")
    analytics.history.export(batch.org_id, batch, version_ns=stored_ns)
    rows = export_telemetry_sessions(analytics.sessions, batch)
    return len(batch.spans) + len(batch.events) + len(batch.llm_calls) + len(batch.tool_calls) \
        + len(batch.metric_points) + rows


def export_payload(analytics: Analytics, payload: bytes) -> int:
    """`export_message` of a raw payload (the local bus hands bytes)."""
    try:
        message = json.loads(payload)
    except ValueError as exc:
        raise PermanentError("payload is not JSON") from exc
    if not isinstance(message, dict) or not isinstance(message.get("org_id"), str):
        raise PermanentError("payload is not a JSON object naming its org")
    return export_message(analytics, message)


def export_rollup(analytics: Analytics, org_id: str, session_id: str, summary_json: str, computed_ns: int) -> None:
    """The aggregate worker's recomputed session rollup, for the insights' session activity sums."""
    if not analytics.configured:
        return
    from core.models import SessionMetricsSummary

    summary = SessionMetricsSummary.model_validate_json(summary_json)
    analytics.history.export_session_rollups(org_id, [SessionRollupRow.from_summary(summary, computed_ns)])


__all__ = ["export_message", "export_payload", "export_rollup"]
