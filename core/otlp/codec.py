"""Decodes OTLP export requests (protobuf or OTLP/JSON) and encodes their responses and error statuses."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Literal

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from core.errors import InvalidPayload
from core.otlp.transport import Encoding

Signal = Literal["traces", "logs", "metrics"]

REQUEST_TYPES: dict[Signal, type[Message]] = {
    "traces": trace_service_pb2.ExportTraceServiceRequest,
    "logs": logs_service_pb2.ExportLogsServiceRequest,
    "metrics": metrics_service_pb2.ExportMetricsServiceRequest,
}
_RESPONSE_TYPES: dict[Signal, type[Message]] = {
    "traces": trace_service_pb2.ExportTraceServiceResponse,
    "logs": logs_service_pb2.ExportLogsServiceResponse,
    "metrics": metrics_service_pb2.ExportMetricsServiceResponse,
}
_REJECTED_FIELD: dict[Signal, str] = {
    "traces": "rejected_spans",
    "logs": "rejected_log_records",
    "metrics": "rejected_data_points",
}
_ENVELOPES: dict[str, Signal] = {
    "resourceSpans": "traces",
    "resource_spans": "traces",
    "resourceLogs": "logs",
    "resource_logs": "logs",
    "resourceMetrics": "metrics",
    "resource_metrics": "metrics",
}
# OTLP/JSON carries these ids as hex; protobuf's JSON mapping expects base64 for bytes fields.
_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"})


def decode_request(signal: Signal | None, body: bytes, encoding: Encoding) -> tuple[Signal, Message]:
    """Decode an export request; ``signal`` None means "tell from the JSON envelope" (Gemini CLI's one URL)."""
    if encoding == "protobuf":
        if signal is None:
            raise InvalidPayload(
                "protobuf body on a URL that names no signal: post it to /v1/traces, /v1/logs or /v1/metrics"
            )
        message = REQUEST_TYPES[signal]()
        try:
            message.ParseFromString(body)
        except (DecodeError, ValueError) as exc:
            raise InvalidPayload(f"body is not a valid protobuf {message.DESCRIPTOR.name}: {exc}") from exc
        return signal, message
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidPayload(f"body is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise InvalidPayload("OTLP/JSON body must be a JSON object")
    if signal is None:
        signal = _signal_of(doc)
    _hex_ids_to_base64(doc)
    message = REQUEST_TYPES[signal]()
    try:
        json_format.ParseDict(doc, message, ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise InvalidPayload(f"body is not a valid OTLP/JSON {message.DESCRIPTOR.name}: {exc}") from exc
    return signal, message


def _signal_of(doc: dict[str, Any]) -> Signal:
    found = {_ENVELOPES[k] for k in doc if k in _ENVELOPES}
    if len(found) != 1:
        raise InvalidPayload(
            "cannot tell the signal: an OTLP/JSON body needs exactly one of "
            "resourceSpans, resourceLogs or resourceMetrics"
        )
    return found.pop()


def _hex_ids_to_base64(node: Any) -> None:
    """Rewrite hex ids in place; an undecodable id becomes empty so validation drops just that item."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _ID_KEYS and isinstance(value, str):
                node[key] = _hex_to_b64(value)
            elif isinstance(value, (dict, list)):
                _hex_ids_to_base64(value)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, (dict, list)):
                _hex_ids_to_base64(item)


def _hex_to_b64(value: str) -> str:
    try:
        raw = binascii.unhexlify(value)
    except (binascii.Error, ValueError):
        # "invalid" marker: 3 bytes is never a valid trace (16) or span (8) id length.
        return "aW52"
    return base64.b64encode(raw).decode("ascii")


def encode_response(signal: Signal, encoding: Encoding, rejected: int = 0, message: str = "") -> bytes:
    """An Export*ServiceResponse; partial_success is left unset on full success (OTLP spec)."""
    response = _RESPONSE_TYPES[signal]()
    if rejected or message:
        partial: Any = response.partial_success  # type: ignore[attr-defined]
        setattr(partial, _REJECTED_FIELD[signal], rejected)
        partial.error_message = message
    if encoding == "protobuf":
        return bytes(response.SerializeToString())
    return json_format.MessageToJson(response, indent=None).encode()


def encode_status(code: int, message: str, encoding: Encoding) -> bytes:
    """A google.rpc.Status error body in the request's encoding."""
    status = status_pb2.Status(code=code, message=message)
    if encoding == "protobuf":
        return bytes(status.SerializeToString())
    return json.dumps({"code": code, "message": message}).encode()


# google.rpc.Code values for the HTTP statuses the OTLP endpoints answer with.
RPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 413: 8, 415: 3, 429: 8, 500: 13, 503: 14}
