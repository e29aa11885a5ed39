"""The export worker's logic: hand each `telemetry-ingested` batch to the Analytics port (history and sessions)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import orjson

from core.agent_sessions.sync import export_telemetry_sessions
from core.erasure import ERASURE_SIGNAL
from core.errors import PermanentError
from core.gc_pause import paused_gc
from core.ports.analytics import Analytics
from core.ports.fact_insights import SessionRollupRow
from core.ports.span_views import SPAN_CHANGES, SPAN_SESSIONS, SpanViewStore
from core.ports.store import SessionRollup
from core.record_codec import RECORD_KEYS, batch_from_message, merge_batches
from core.records import Batch

log = logging.getLogger(__name__)

_SESSION_SPANS = 100_000  # spans of one session copied again after a hook linked them (the Store's updates too)


def _describe(message: dict[str, Any]) -> str:
    counts = message.get("counts")
    if isinstance(counts, dict):
        return ", ".join(f"{n} {kind}" for kind, n in counts.items() if n) or "nothing"
    return "a message"


def export_message(analytics: Analytics, store: SpanViewStore, message: dict[str, Any]) -> int:
    """Export one parsed pipeline message (core.workers.parse_org_message); returns the record rows handed over.
    Ingest's and hooks' messages carry their records; an API span write's names its spans (copied from the Store);
    an erasure's erases its session. Safe under redelivery: every analytics write is keyed, and ordered by the time
    the batch was stored."""
    if not analytics.configured:
        log.warning("analytics not configured: dropped export of %s for org %s (set OBSERVATORY_CLICKHOUSE_URL)",
                    _describe(message), message.get("org_id"))
        return 0
    return export_parsed(analytics, store, [message])


def export_payloads(analytics: Analytics, store: SpanViewStore, payloads: list[bytes]) -> int:
    """The local bus's delivery of several messages at once: their records merged per org and written in one
    export (each analytics write costs a part per table, so one write per delivery instead of one per message)."""
    if not analytics.configured:
        for payload in payloads:
            export_message(analytics, store, _parsed(payload))
        return 0
    with paused_gc():
        return export_parsed(analytics, store, [_parsed(payload) for payload in payloads])


def export_parsed(analytics: Analytics, store: SpanViewStore, messages: list[dict[str, Any]]) -> int:
    """Erasures first, then the spans API writes (their spans copied from the Store), then the records of the other
    messages, merged per org; the merged rows take the newest `stored_ns` of their messages as their version.
    Records of a session erased after their message was stored (a late or redelivered message) are dropped: an
    older export never undoes an erasure."""
    with paused_gc():
        return _export_parsed(analytics, store, messages)


def _export_parsed(analytics: Analytics, store: SpanViewStore, messages: list[dict[str, Any]]) -> int:
    for message in messages:
        if message.get("signal") == ERASURE_SIGNAL:
            _erase(analytics, message)
    for message in messages:
        if message.get(SPAN_CHANGES):
            _copy_spans(analytics, store, message["org_id"], message[SPAN_CHANGES])
        for session_id in message.get(SPAN_SESSIONS) or ():  # a hook gave these sessions' spans links
            if isinstance(session_id, str):
                spans = store.session_spans(message["org_id"], session_id, limit=_SESSION_SPANS)
                _copy_spans(analytics, store, message["org_id"], [[s.trace_id, s.id] for s in spans])
    by_org: dict[str, list[dict[str, Any]]] = {}
    for message in messages:
        if message.get("signal") != ERASURE_SIGNAL and any(message.get(key) for key in RECORD_KEYS):
            by_org.setdefault(message["org_id"], []).append(message)
    exported = 0
    for org_id, org_messages in by_org.items():
        stored = [_stored_ns(m) for m in org_messages]
        batches = [batch_from_message(m) for m in org_messages]
        erased = analytics.history.erased_sessions(org_id, sorted({s for b in batches for s in _session_ids(b)}))
        if erased:
            batches = [_without_erased(b, erased, ns) for b, ns in zip(batches, stored, strict=True)]
        versions = [ns for ns in stored if ns is not None]
        exported += _export(analytics, merge_batches(batches), max(versions) if versions else None)
    return exported


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


def _stored_ns(message: dict[str, Any]) -> int | None:
    stored_ns = message.get("stored_ns")
    if stored_ns is not None and not isinstance(stored_ns, int):
        raise PermanentError("stored_ns is not an integer")
    return stored_ns


def _erase(analytics: Analytics, message: dict[str, Any]) -> None:
    erased_ns = message.get("erased_ns")
    if not isinstance(erased_ns, int):
        erased_ns = time.time_ns()
    for session_id in message.get("session_ids") or ():
        if isinstance(session_id, str):
            analytics.history.erase_session(message["org_id"], session_id, erased_ns)
            analytics.sessions.erase_session(message["org_id"], session_id)


def _copy_spans(analytics: Analytics, store: SpanViewStore, org_id: str, changes: Any) -> None:
    """An API span write names its spans only: their state is read from the Store when the message is handled (a
    redelivered or late message copies the current state too), with the sightings of their sessions."""
    if not isinstance(changes, list) or not all(
            isinstance(k, list) and len(k) == 2 and all(isinstance(x, str) for x in k) for k in changes):
        raise PermanentError(f"{SPAN_CHANGES} must be a list of [trace_id, span_id] pairs")
    keys = [(k[0], k[1]) for k in changes]
    spans = store.span_records(org_id, keys)
    analytics.history.copy_spans(org_id, keys, spans)
    sightings = Batch(org_id=org_id)
    for span in spans:
        if span.session_id:  # an API span of a session makes the session known, as the Store's write does
            seen = sightings.see_session(span.session_id, span.start_ns)
            sightings.see_session(span.session_id, max(span.end_ns, span.start_ns))
            seen.service_name = seen.service_name or span.service_name
            seen.workspace = seen.workspace or span.workspace or None
            if seen.source_type == "other":
                seen.source_type = span.source_type
            if span.usage.model:
                seen.models.add(span.usage.model)
    if sightings.sessions:
        analytics.history.export(org_id, sightings)


def _session_ids(batch: Batch) -> set[str]:
    ids = set(batch.sessions)
    for records in (batch.spans, batch.events, batch.llm_calls, batch.tool_calls, batch.metric_points):
        ids.update(r.session_id for r in records if r.session_id)
    return ids


def _without_erased(batch: Batch, erased: dict[str, int], stored_ns: int | None) -> Batch:
    """The batch without the records of sessions erased at or after it was stored (of every erased session when
    the message does not say when it was stored); calls naming a dropped span go with it, as the Store's purge
    takes them."""
    gone = {sid for sid, ns in erased.items() if stored_ns is None or stored_ns <= ns}
    if not gone:
        return batch
    out = Batch(org_id=batch.org_id)
    out.spans = [s for s in batch.spans if s.session_id not in gone]
    gone_spans = {(s.trace_id, s.span_id) for s in batch.spans if s.session_id in gone}
    out.events = [e for e in batch.events if e.session_id not in gone]
    out.metric_points = [p for p in batch.metric_points if p.session_id not in gone]
    out.llm_calls = [c for c in batch.llm_calls
                     if c.session_id not in gone and (c.trace_id, c.span_id) not in gone_spans]
    out.tool_calls = [t for t in batch.tool_calls
                      if t.session_id not in gone and (t.trace_id, t.span_id) not in gone_spans]
    out.sessions = {sid: rec for sid, rec in batch.sessions.items() if sid not in gone}
    return out


def export_rollups(analytics: Analytics, rollups: Sequence[SessionRollup]) -> None:
    """The aggregate worker's recomputed session rollups, one write per org, for the insights' session activity
    sums."""
    if not analytics.configured:
        return
    from core.models import SessionMetricsSummary

    by_org: dict[str, list[SessionRollupRow]] = {}
    for org_id, _, summary_json, computed_ns in rollups:
        summary = SessionMetricsSummary.model_validate_json(summary_json)
        by_org.setdefault(org_id, []).append(SessionRollupRow.from_summary(summary, computed_ns))
    for org_id, rows in by_org.items():
        analytics.history.export_session_rollups(org_id, rows)
