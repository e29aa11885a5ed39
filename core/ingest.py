"""The ingest service: normalise a decoded export request, join, link and store it idempotently."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import orjson

from core.joins import join_llm_calls
from core.normalise.linking import EXECUTE_SPAN_NAMES
from core.normalise.logs import normalise_logs
from core.normalise.metrics import normalise_metrics
from core.normalise.spans import normalise_spans, tool_placeholder_id
from core.otlp.codec import Signal
from core.ports.bus import TELEMETRY_INGESTED
from core.ports.store import IngestUnitOfWork, SessionLink, Store
from core.pricing import PriceTable
from core.record_codec import encode_records
from core.records import Batch, merged_tool_calls
from core.span_filter import SpanFilter

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IngestResult:
    accepted: int
    rejected: int
    message: str


class IngestService:
    def __init__(self, store: Store, prices: PriceTable, span_filter: SpanFilter, join_window_s: float = 120.0,
                 after_store: Callable[[], object] | None = None, export_records: bool = False) -> None:
        """``after_store`` runs after each committed write (with a remote bus: relay the outbox to it).
        ``export_records``: the bus message carries the normalised records too (the analytics export needs
        them; without analytics the message names only the touched entities, and stays small)."""
        self._after_store = after_store
        self._export_records = export_records
        self._store = store
        self._prices = prices
        self._filter = span_filter
        self._window_ns = int(join_window_s * 1e9)

    def normalise(self, org_id: str, signal: Signal, request: Any) -> Batch:
        batch = Batch(org_id=org_id)
        if signal == "traces":
            normalise_spans(list(request.resource_spans), batch, self._prices, self._filter)
        elif signal == "logs":
            normalise_logs(list(request.resource_logs), batch, self._prices)
        else:
            normalise_metrics(list(request.resource_metrics), batch)
        return batch

    def ingest(self, org_id: str, signal: Signal, request: Any, request_digest: str) -> IngestResult:
        """Store one export request. Raises StorageUnavailable when the write cannot be made durable."""
        batch = self.normalise(org_id, signal, request)
        accepted = self.store_batch(batch, signal, request_digest)
        if batch.redactions:
            log.info("masked secrets before storage: %s", dict(sorted(batch.redactions.items())))
        message = ""
        if batch.rejected:
            reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(batch.reject_reasons.items()))
            message = f"{batch.rejected} item(s) rejected: {reasons}"
        return IngestResult(accepted, batch.rejected, message)

    def store_batch(self, batch: Batch, signal: Signal, request_digest: str) -> int:
        """Store normalised records in one unit of work: resolve links and joins against stored state, upsert
        every fact (a replay changes nothing) and enqueue the aggregate message. Returns the accepted count.
        Every write path of telemetry (OTLP, legacy JSON) goes through here."""
        accepted = len(batch.spans) + len(batch.events) + len(batch.metric_points)
        if accepted or batch.reject_reasons:
            # A tool call reported twice in one batch (its span and its approval wait, say) is written once: the
            # same row as two upserts in a row would leave, without the second rewriting it and its indexes.
            batch.tool_calls = merged_tool_calls(batch.tool_calls)
            # The records are encoded before the write lock every ingest request waits on (about a tenth of the
            # time it was held), and again under it only when the lookups there changed one of them.
            records = encode_records(batch) if self._export_records else None
            with self._store.unit_of_work() as uow:
                if self._resolve(uow, batch) and records is not None:
                    records = encode_records(batch)
                payload = ingested_message(batch, signal, records)
                uow.write(batch, request_digest, [(TELEMETRY_INGESTED, payload)] if accepted else [])
                for span in batch.spans:
                    if span.name in EXECUTE_SPAN_NAMES and span.session_id and span.links.task_id:
                        uow.link_session_to_task(batch.org_id, span.session_id,
                                                 SessionLink(span.links.task_id, span.links.assignment_id))
            if accepted and self._after_store is not None:
                self._after_store()
        return accepted

    def _resolve(self, uow: IngestUnitOfWork, batch: Batch) -> bool:
        """Lookups that need stored state: session workspaces and task links, tool ids, LLM-call joins. Returns
        whether they changed a record."""
        org = batch.org_id
        changed = False
        orphan_sessions = sorted({s.session_id for s in batch.spans
                                  if s.session_id and (not s.workspace or not s.links.task_id)})
        if orphan_sessions:
            workspaces = uow.session_workspaces(org, orphan_sessions)
            for rec in batch.sessions.values():
                if rec.workspace:
                    workspaces.setdefault(rec.session_id, rec.workspace)
            links = uow.session_links(org, orphan_sessions)
            for span in batch.spans:
                if span.session_id:
                    if not span.workspace:
                        workspace = workspaces.get(span.session_id, "")
                        changed |= workspace != span.workspace
                        span.workspace = workspace
                    link = links.get(span.session_id)
                    if link and not span.links.task_id:
                        span.links.task_id = link.task_id
                        span.links.assignment_id = span.links.assignment_id or link.assignment_id
                        changed = True
        placeholders = [t for t in batch.tool_calls if t.tool_use_id.startswith("span:")]
        if placeholders:
            keys = [cast(tuple[str, str], tuple(t.tool_use_id.split(":")[1:3])) for t in placeholders]
            known = uow.tool_use_ids_for_spans(org, keys)
            for tool, key in zip(placeholders, keys, strict=True):
                if key in known:
                    tool.tool_use_id = known[key]
                    changed = True
        real_ids = {tool_placeholder_id(t.trace_id, t.span_id): t.tool_use_id for t in batch.tool_calls
                    if t.span_id and t.trace_id and not t.tool_use_id.startswith("span:")}
        if real_ids:
            uow.adopt_tool_placeholders(org, real_ids)
        if batch.llm_calls:
            joined = join_llm_calls(uow, org, batch.llm_calls, self._window_ns)
            # Unchanged when every call is kept as it came (no merge, no key twice): the same objects, in order.
            changed |= len(joined) != len(batch.llm_calls) or any(
                a is not b for a, b in zip(joined, batch.llm_calls, strict=True))
            batch.llm_calls = joined
        return changed


def ingested_message(batch: Batch, signal: Signal, records: bytes | None = None) -> bytes:
    """What the workers need: the org and the entities the batch touched (to recompute), and with analytics
    the records themselves (`encode_records`, to export)."""
    message: dict[str, Any] = {
        "org_id": batch.org_id,
        "signal": signal,
        "session_ids": sorted(batch.sessions),
        "trace_ids": sorted({s.trace_id for s in batch.spans}),
        "task_ids": sorted({s.links.task_id for s in batch.spans if s.links.task_id}),
        "counts": {"spans": len(batch.spans), "events": len(batch.events), "llm_calls": len(batch.llm_calls),
                   "tool_calls": len(batch.tool_calls), "metric_points": len(batch.metric_points)},
    }
    if records is None:
        return orjson.dumps(message)
    # The stored time orders the analytics rewrites of this batch's rows (the same on every redelivery), so it is
    # taken under the write lock, in the order the Store commits; the records follow it (record_codec reads the
    # header up to it).
    message["stored_ns"] = time.time_ns()
    return orjson.dumps(message)[:-1] + b"," + records[1:]
