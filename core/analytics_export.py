"""The export worker's logic: hand each `telemetry-ingested` batch to the Analytics port (history and sessions)."""

from __future__ import annotations

import logging
from typing import Any

import orjson

from core.agent_sessions.sync import export_telemetry_sessions
from core.errors import PermanentError
from core.ports.analytics import Analytics
from core.ports.fact_insights import SessionRollupRow
from core.record_codec import RECORD_KEYS, batch_from_message, merge_batches
from core.records import Batch

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
    stored_ns = message.get("stored_ns")
    if stored_ns is not None and not isinstance(stored_ns, int):
        raise PermanentError("stored_ns is not an integer")
    return _export(analytics, batch_from_message(message), stored_ns)


def _export(analytics: Analytics, batch: Batch, stored_ns: int | None) -> int:
    analytics.history.export(batch.org_id, batch, version_ns=stored_ns)
    rows = export_telemetry_sessions(analytics.sessions, batch)
    return len(batch.spans) + len(batch.events) + len(batch.llm_calls) + len(batch.tool_calls) \
        + len(batch.metric_points) + rows


def _parsed(payload: bytes) -> dict[str, Any]:
    try:
        message = orjson.loads(payload)
    except ValueError as exc:
        raise PermanentError("payload is not JSON") from exc
    if not isinstance(message, dict) or not isinstance(message.get("org_id"), str):
        raise PermanentError("payload is not a JSON object naming its org")
    return message


def export_payloads(analytics: Analytics, payloads: list[bytes]) -> int:
    """The local bus's delivery of several messages at once: their records merged per org and written in one
    export (each analytics write costs a part per table, so one write per delivery instead of one per message).
    The merged rows take the newest `stored_ns` of the messages as their version."""
    if not analytics.configured:
        for payload in payloads:
            export_message(analytics, _parsed(payload))
        return 0
    by_org: dict[str, list[dict[str, Any]]] = {}
    for payload in payloads:
        message = _parsed(payload)
        if any(message.get(key) for key in RECORD_KEYS):
            by_org.setdefault(message["org_id"], []).append(message)
    exported = 0
    for messages in by_org.values():
        versions = [m["stored_ns"] for m in messages if isinstance(m.get("stored_ns"), int)]
        batch = merge_batches([batch_from_message(m) for m in messages])
        exported += _export(analytics, batch, max(versions) if versions else None)
    return exported


def export_rollups(analytics: Analytics, rollups: list[tuple[str, str, str, int]]) -> None:
    """The aggregate worker's recomputed session rollups (org, session, summary JSON, computed_ns), one write per
    org, for the insights' session activity sums."""
    if not analytics.configured:
        return
    from core.models import SessionMetricsSummary

    by_org: dict[str, list[SessionRollupRow]] = {}
    for org_id, _, summary_json, computed_ns in rollups:
        summary = SessionMetricsSummary.model_validate_json(summary_json)
        by_org.setdefault(org_id, []).append(SessionRollupRow.from_summary(summary, computed_ns))
    for org_id, rows in by_org.items():
        analytics.history.export_session_rollups(org_id, rows)
