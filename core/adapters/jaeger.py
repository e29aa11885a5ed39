"""Jaeger query API adapter of the TraceArchive port (HTTP JSON: /api/traces, /api/traces/{id}) over urllib."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

from core.models import SpanView, TraceSummary
from core.ports.trace_archive import (
    ArchiveQuery,
    ArchiveUnavailable,
    TraceArchive,
    normalise_trace_id,
    remote_span,
    summarise,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(microseconds=1)


def _tags(raw: Any) -> dict[str, Any]:
    return {t["key"]: t.get("value") for t in raw or () if isinstance(t, dict) and "key" in t}


def _status(tags: dict[str, Any]) -> str:
    code = str(tags.get("otel.status_code", "")).upper()
    if code == "ERROR" or tags.get("error") in (True, "true"):
        return "error"
    return "ok" if code == "OK" else "unset"


class JaegerArchive(TraceArchive):
    """Traces of one service in a Jaeger query service (the UI's own JSON API, port 16686)."""

    kind = "jaeger"

    def _get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any] | None:
        """The decoded body; None on 404 (an unknown trace). Anything else that is not a 200 is unavailability."""
        url = self.spec.url.rstrip("/") + path + (("?" + urllib.parse.urlencode(params)) if params else "")
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.spec.timeout_s) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise ArchiveUnavailable(f"jaeger {self.name}: HTTP {exc.code}") from exc
        except (OSError, ValueError) as exc:  # refused, timed out, reset, or not JSON
            raise ArchiveUnavailable(f"jaeger {self.name}: {exc}") from exc
        if not isinstance(body, dict):
            raise ArchiveUnavailable(f"jaeger {self.name}: unexpected answer")
        return body

    def list_traces(self, query: ArchiveQuery) -> list[TraceSummary]:
        start, end = query.window(datetime.now(UTC))
        params = {"service": self.spec.service, "start": str(_micros(start)), "end": str(_micros(end)),
                  "limit": str(query.limit)}
        if query.session_id:
            params["tags"] = json.dumps({"session.id": query.session_id})
        body = self._get("/api/traces", params) or {}
        out = []
        for trace in body.get("data") or ():
            spans = self._spans(trace)
            if spans:
                out.append(summarise(spans[0].trace_id, spans, self.kind))
        out.sort(key=lambda t: t.start_time, reverse=True)
        return out[:query.limit]

    def get_trace(self, trace_id: str) -> list[SpanView]:
        body = self._get(f"/api/traces/{urllib.parse.quote(trace_id, safe='')}")
        if body is None:
            return []
        spans = [s for trace in body.get("data") or () for s in self._spans(trace)]
        return sorted(spans, key=lambda s: (s.start_time, s.id))

    def _spans(self, trace: dict[str, Any]) -> list[SpanView]:
        processes = trace.get("processes") or {}
        out = []
        try:
            for raw in trace.get("spans") or ():
                tags = _tags(raw.get("tags"))
                process = processes.get(raw.get("processID")) or {}
                resource = _tags(process.get("tags"))
                if process.get("serviceName"):
                    resource["service.name"] = process["serviceName"]
                parent = next((r.get("spanID") for r in raw.get("references") or ()
                               if r.get("refType") == "CHILD_OF"), None)
                start = _EPOCH + timedelta(microseconds=int(raw["startTime"]))
                events = [{"time": (_EPOCH + timedelta(microseconds=int(log.get("timestamp", 0)))).isoformat(),
                           "attributes": _tags(log.get("fields"))} for log in raw.get("logs") or ()]
                out.append(remote_span(
                    span_id=str(raw["spanID"]).lower(), trace_id=normalise_trace_id(str(raw["traceID"])),
                    parent_span_id=str(parent).lower() if parent else None, name=str(raw.get("operationName", "")),
                    kind=str(tags.get("span.kind") or "internal").lower(), status=_status(tags),
                    status_message=tags.get("otel.status_description"), start=start,
                    end=start + timedelta(microseconds=int(raw.get("duration") or 0)), attributes=tags,
                    resource_attributes=resource, events=events,
                ))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ArchiveUnavailable(f"jaeger {self.name}: malformed trace ({exc})") from exc
        return out
