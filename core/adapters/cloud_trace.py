"""Cloud Trace adapter of the TraceArchive port (the v1 API: ListTraces with the COMPLETE view, GetTrace)."""

from __future__ import annotations

from datetime import UTC, datetime
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

_KINDS = {1: "server", 2: "client"}  # TraceSpan.SpanKind RPC_SERVER, RPC_CLIENT; the rest is internal
_SERVICE_LABELS = ("service.name", "g.co/r/generic_task/job", "g.co/gae/app/module", "/component")


class CloudTraceArchive(TraceArchive):
    """Traces of one Google Cloud project. The client library is imported on first use (a cold start never pays)."""

    kind = "gcp"
    _client: Any = None
    _channel: Any = None

    def _api(self) -> Any:
        if self._client is None:
            try:
                from google.cloud import trace_v1

                if self.spec.insecure:  # a local endpoint without TLS or credentials
                    import grpc  # type: ignore[import-untyped]
                    from google.cloud.trace_v1.services.trace_service.transports import TraceServiceGrpcTransport

                    self._channel = grpc.insecure_channel(self.spec.endpoint)
                    self._client = trace_v1.TraceServiceClient(
                        transport=TraceServiceGrpcTransport(channel=self._channel))
                else:
                    options = {"api_endpoint": self.spec.endpoint} if self.spec.endpoint else None
                    self._client = trace_v1.TraceServiceClient(client_options=options)
            except Exception as exc:  # missing extra or no credentials: the remote is unavailable, not the API
                raise ArchiveUnavailable(f"gcp {self.name}: {exc}") from exc
        return self._client

    def _call(self, fn: Any) -> Any:
        from google.api_core import exceptions as api_exceptions
        from google.auth import exceptions as auth_exceptions

        try:
            return fn(self._api())
        except api_exceptions.NotFound:
            return None
        except (api_exceptions.GoogleAPIError, auth_exceptions.GoogleAuthError, ValueError) as exc:
            raise ArchiveUnavailable(f"gcp {self.name}: {type(exc).__name__}: {exc}") from exc

    def list_traces(self, query: ArchiveQuery) -> list[TraceSummary]:
        from google.cloud import trace_v1

        start, end = query.window(datetime.now(UTC))
        request = trace_v1.ListTracesRequest(
            project_id=self.spec.project, view=trace_v1.ListTracesRequest.ViewType.COMPLETE,
            page_size=query.limit, start_time=start, end_time=end, order_by="start desc",
            filter=f"+session.id:{query.session_id}" if query.session_id else "",
        )

        def fetch(api: Any) -> list[Any]:
            traces = []
            # retry=None: a remote that fails degrades the answer at once instead of holding the request
            for trace in api.list_traces(request=request, retry=None, timeout=self.spec.timeout_s):
                traces.append(trace)
                if len(traces) >= query.limit:
                    break
            return traces

        out = []
        for trace in self._call(fetch) or ():
            spans = self._spans(trace)
            if spans:
                out.append(summarise(spans[0].trace_id, spans, self.kind))
        out.sort(key=lambda t: t.start_time, reverse=True)
        return out[:query.limit]

    def get_trace(self, trace_id: str) -> list[SpanView]:
        trace = self._call(lambda api: api.get_trace(project_id=self.spec.project, trace_id=trace_id, retry=None,
                                                     timeout=self.spec.timeout_s))
        if trace is None:
            return []
        return sorted(self._spans(trace), key=lambda s: (s.start_time, s.id))

    def _spans(self, trace: Any) -> list[SpanView]:
        trace_id = normalise_trace_id(trace.trace_id)
        out = []
        for span in trace.spans:
            labels = dict(span.labels)
            service = next((labels[k] for k in _SERVICE_LABELS if labels.get(k)), None)
            error = labels.get("/error/message") or labels.get("/error/name")
            start = span.start_time if span.start_time.tzinfo else span.start_time.replace(tzinfo=UTC)
            out.append(remote_span(
                span_id=f"{span.span_id:016x}", trace_id=trace_id,
                parent_span_id=f"{span.parent_span_id:016x}" if span.parent_span_id else None, name=span.name,
                kind=_KINDS.get(int(span.kind), "internal"), status="error" if error else "ok",
                status_message=error or None, start=start, end=span.end_time, attributes=labels,
                resource_attributes={"service.name": service} if service else {},
            ))
        return out

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
        self._client = self._channel = None
