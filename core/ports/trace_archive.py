"""The TraceArchive port: read-only remote trace stores (Cloud Trace, Jaeger) merged into trace reads."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from core.config import TraceArchiveConfig as ArchiveSpec
from core.errors import CoreError
from core.models import SpanView, TraceSummary

__all__ = ["ArchiveQuery", "ArchiveSpec", "ArchiveUnavailable", "TraceArchive", "normalise_trace_id", "remote_span",
           "remote_trace_id", "summarise"]

# A remote search needs a window; a trace query without one looks this far back.
DEFAULT_LOOKBACK = timedelta(days=7)


class ArchiveUnavailable(CoreError):
    """A remote trace archive did not answer (down, timed out, refused, or answered garbage)."""

    status = 503
    retryable = True


@dataclass(frozen=True)
class ArchiveQuery:
    """A trace search against one remote; hashable, so it keys the cache. Open ends are resolved by the adapter."""

    start: datetime | None
    end: datetime | None
    limit: int
    session_id: str | None = None

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        end = self.end or now
        return (self.start or end - DEFAULT_LOOKBACK), end


class TraceArchive(ABC):
    """A read-only remote store of traces owned by one org. Every method raises ArchiveUnavailable on failure."""

    kind: ClassVar[str]

    def __init__(self, spec: ArchiveSpec) -> None:
        self.spec = spec

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def org_id(self) -> str:
        return self.spec.org

    @abstractmethod
    def list_traces(self, query: ArchiveQuery) -> list[TraceSummary]:
        """Summaries of the traces in the window (newest first, at most ``query.limit``), ``source`` set."""

    @abstractmethod
    def get_trace(self, trace_id: str) -> list[SpanView]:
        """The spans of one trace (normalised 32-hex id); empty when the remote does not know it."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections (the gRPC channel); no-op by default."""


_HEX_ID = re.compile(r"[0-9a-f]{1,32}")


def normalise_trace_id(trace_id: str) -> str:
    """Lower-case 32 hex digits: Jaeger drops leading zeros, a 64-bit id has 16 digits."""
    return trace_id.strip().lower().zfill(32)


def remote_trace_id(trace_id: str) -> str | None:
    """The id to ask a remote for, or None when it cannot be a remote trace id (not 1-32 hex digits)."""
    raw = trace_id.strip().lower()
    return raw.zfill(32) if _HEX_ID.fullmatch(raw) else None


def _int_attr(attrs: dict[str, Any], *keys: str) -> int:
    for key in keys:
        try:
            return int(attrs[key])
        except (KeyError, TypeError, ValueError):
            continue
    return 0


def summarise(trace_id: str, spans: list[SpanView], source: str) -> TraceSummary:
    """A trace summary computed from its spans, as the local store computes it from its rows."""
    ids = {s.id for s in spans}
    roots = sorted((s for s in spans if not s.parent_span_id or s.parent_span_id not in ids),
                   key=lambda s: s.start_time)
    root = roots[0] if roots else min(spans, key=lambda s: s.start_time)
    start = min(s.start_time for s in spans)
    ends = [s.end_time for s in spans if s.end_time]
    end = max(ends) if ends else None
    service = next((str(s.resource_attributes["service.name"]) for s in spans
                    if s.resource_attributes.get("service.name")), None)
    session = next((s.session_id for s in spans if s.session_id), None)
    return TraceSummary(
        trace_id=trace_id, root_span_name=root.name, service_name=service, source_type=root.source_type,
        status="error" if any(s.status == "error" for s in spans) else "ok", span_count=len(spans),
        start_time=start, end_time=end, duration_ms=((end - start).total_seconds() * 1000) if end else 0.0,
        tokens_in=sum(s.tokens_in for s in spans), tokens_out=sum(s.tokens_out for s in spans),
        cost_usd=sum(s.cost_usd for s in spans), session_id=session, source=source,
    )


def remote_span(*, span_id: str, trace_id: str, parent_span_id: str | None, name: str, kind: str, status: str,
                start: datetime, end: datetime | None, attributes: dict[str, Any],
                resource_attributes: dict[str, Any], status_message: str | None = None,
                events: list[dict[str, Any]] | None = None) -> SpanView:
    """A SpanView of a remote span: the well-known GenAI and session attributes fill the typed fields."""
    start = start if start.tzinfo else start.replace(tzinfo=UTC)
    return SpanView(
        id=span_id, trace_id=trace_id, parent_span_id=parent_span_id or None, name=name, kind=kind, status=status,
        status_message=status_message, start_time=start, end_time=end,
        duration_ms=((end - start).total_seconds() * 1000) if end else 0.0,
        session_id=str(attributes["session.id"]) if attributes.get("session.id") else None,
        model=str(attributes["gen_ai.request.model"]) if attributes.get("gen_ai.request.model") else None,
        tokens_in=_int_attr(attributes, "gen_ai.usage.input_tokens", "input_tokens"),
        tokens_out=_int_attr(attributes, "gen_ai.usage.output_tokens", "output_tokens"),
        attributes=attributes, resource_attributes=resource_attributes, events=events or [],
    )
