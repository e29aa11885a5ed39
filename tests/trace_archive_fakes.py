"""Fake remote trace archives on 127.0.0.1 speaking the real wire protocols: Jaeger's query API (HTTP JSON) and
Cloud Trace v1 (gRPC, with the client library's own generated message types)."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc  # type: ignore[import-untyped]
from google.cloud.trace_v1 import types as ct

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(value: datetime) -> int:
    return (value - EPOCH) // timedelta(microseconds=1)


@dataclass
class FakeSpan:
    span_id: int
    name: str
    start: datetime
    duration_ms: float = 10.0
    parent: int = 0
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeTrace:
    trace_id: str  # 32 hex
    spans: list[FakeSpan]
    service: str = "claude-code"

    @property
    def start(self) -> datetime:
        return min(s.start for s in self.spans)


# Jaeger has no emulator: this fake answers GET /api/traces and /api/traces/{id} with the query service's JSON
# (data[].traceID/spans/processes, microsecond times, CHILD_OF references, typed tags), as Jaeger 1.x does.
class FakeJaeger:
    def __init__(self, traces: list[FakeTrace]) -> None:
        self.traces = {t.trace_id: t for t in traces}
        self.hits: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                fake.hits.append(self.path)
                url = urllib.parse.urlsplit(self.path)
                params = dict(urllib.parse.parse_qsl(url.query))
                if url.path == "/api/traces":
                    missing = [p for p in ("service",) if p not in params]
                    if missing:
                        return self._send(400, {"data": None, "errors": [{"code": 400, "msg": "service required"}]})
                    data = fake.search(params)
                    return self._send(200, {"data": data, "total": len(data), "limit": 0, "offset": 0,
                                            "errors": None})
                if url.path.startswith("/api/traces/"):
                    wanted = url.path.rsplit("/", 1)[1].lower().lstrip("0")
                    match = next((t for t in fake.traces.values() if t.trace_id.lstrip("0") == wanted), None)
                    if match is None:
                        return self._send(404, {"data": None, "errors": [{"code": 404, "msg": "trace not found"}]})
                    return self._send(200, {"data": [fake.wire(match)], "total": 0, "limit": 0, "offset": 0,
                                            "errors": None})
                self._send(404, {"errors": [{"code": 404, "msg": "404 page not found"}]})

            def _send(self, status: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def search(self, params: dict[str, str]) -> list[dict[str, Any]]:
        start, end = int(params.get("start", 0)), int(params.get("end", 2**62))
        tags = json.loads(params["tags"]) if "tags" in params else {}
        found = [t for t in self.traces.values() if t.service == params["service"]
                 and any(start <= micros(s.start) <= end for s in t.spans)
                 and all(any(s.tags.get(k) == v for s in t.spans) for k, v in tags.items())]
        found.sort(key=lambda t: t.start, reverse=True)
        return [self.wire(t) for t in found[:int(params.get("limit", 20))]]

    @staticmethod
    def wire(trace: FakeTrace) -> dict[str, Any]:
        tid = trace.trace_id.lstrip("0") or "0"  # Jaeger prints ids without leading zeros
        spans = [{
            "traceID": tid, "spanID": f"{s.span_id:016x}", "flags": 1, "operationName": s.name,
            "references": [{"refType": "CHILD_OF", "traceID": tid, "spanID": f"{s.parent:016x}"}] if s.parent else [],
            "startTime": micros(s.start), "duration": int(s.duration_ms * 1000),
            "tags": [{"key": k, "type": "string", "value": v} for k, v in s.tags.items()],
            "logs": [], "processID": "p1", "warnings": None,
        } for s in trace.spans]
        return {"traceID": tid, "spans": spans, "warnings": None,
                "processes": {"p1": {"serviceName": trace.service,
                                     "tags": [{"key": "host.name", "type": "string", "value": "h1"}]}}}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# Cloud Trace has no emulator: this fake is a gRPC server of google.devtools.cloudtrace.v1.TraceService whose
# messages are (de)serialised by the client library's own generated types, so the client speaks to it unchanged.
class FakeCloudTrace:
    SERVICE = "google.devtools.cloudtrace.v1.TraceService"

    def __init__(self, project: str, traces: list[FakeTrace]) -> None:
        self.project = project
        self.traces = {t.trace_id: t for t in traces}
        self.requests: list[Any] = []
        handlers = {
            "ListTraces": grpc.unary_unary_rpc_method_handler(
                self._list, request_deserializer=ct.ListTracesRequest.deserialize,
                response_serializer=ct.ListTracesResponse.serialize),
            "GetTrace": grpc.unary_unary_rpc_method_handler(
                self._get, request_deserializer=ct.GetTraceRequest.deserialize,
                response_serializer=ct.Trace.serialize),
        }
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(self.SERVICE, handlers),))
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.endpoint = f"127.0.0.1:{self.port}"
        self.server.start()

    def wire(self, trace: FakeTrace, complete: bool = True) -> ct.Trace:
        spans = [ct.TraceSpan(
            span_id=s.span_id, name=s.name, parent_span_id=s.parent, start_time=s.start,
            end_time=s.start + timedelta(milliseconds=s.duration_ms), labels={**s.tags, "/component": trace.service},
            kind=ct.TraceSpan.SpanKind.RPC_SERVER if not s.parent else ct.TraceSpan.SpanKind.SPAN_KIND_UNSPECIFIED,
        ) for s in trace.spans] if complete else []
        return ct.Trace(project_id=self.project, trace_id=trace.trace_id, spans=spans)

    def _list(self, request: ct.ListTracesRequest, context: Any) -> ct.ListTracesResponse:
        self.requests.append(request)
        if request.project_id != self.project:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "unknown project")
        start = request.start_time or EPOCH
        end = request.end_time or datetime.max.replace(tzinfo=UTC)
        found = [t for t in self.traces.values() if start <= t.start <= end]
        if request.filter.startswith("+") and ":" in request.filter:  # +LABEL_KEY:VALUE, the exact label match
            key, value = request.filter[1:].split(":", 1)
            found = [t for t in found if any(s.tags.get(key) == value for s in t.spans)]
        found.sort(key=lambda t: t.start, reverse=True)
        complete = request.view == ct.ListTracesRequest.ViewType.COMPLETE
        return ct.ListTracesResponse(traces=[self.wire(t, complete) for t in found[:request.page_size or 100]])

    def _get(self, request: ct.GetTraceRequest, context: Any) -> ct.Trace:
        self.requests.append(request)
        trace = self.traces.get(request.trace_id)
        if trace is None or request.project_id != self.project:
            context.abort(grpc.StatusCode.NOT_FOUND, "trace not found")
        return self.wire(trace)  # type: ignore[arg-type]

    def close(self) -> None:
        self.server.stop(None)


@contextmanager
def fakes(jaeger_traces: list[FakeTrace], gcp_traces: list[FakeTrace], project: str = "proj-a"
          ) -> Iterator[tuple[FakeJaeger, FakeCloudTrace]]:
    jaeger, gcp = FakeJaeger(jaeger_traces), FakeCloudTrace(project, gcp_traces)
    try:
        yield jaeger, gcp
    finally:
        jaeger.close()
        gcp.close()


def sample_trace(trace_id: str, start: datetime, service: str = "claude-code", session: str | None = None,
                 error: bool = False) -> FakeTrace:
    """A root span and one child with GenAI token attributes."""
    tags = {"session.id": session} if session else {}
    child_tags = {**tags, "gen_ai.request.model": "claude-sonnet-4-5", "gen_ai.usage.input_tokens": "120",
                  "gen_ai.usage.output_tokens": "30"}
    if error:
        child_tags["otel.status_code"] = "ERROR"
        child_tags["/error/message"] = "boom"
    return FakeTrace(trace_id, [FakeSpan(0x1111, "claude_code.interaction", start, 50.0, tags=tags),
                                FakeSpan(0x2222, "llm_request", start + timedelta(milliseconds=5), 20.0, 0x1111,
                                         child_tags)], service)
