"""The OTLP/HTTP request cycle shared by the four ingest entry points."""

from __future__ import annotations

import hashlib
import logging

import flask

from core.config import get_settings
from core.errors import CoreError, MethodNotAllowed
from core.otlp.codec import RPC_CODES, Signal, decode_request, encode_response, encode_status
from core.otlp.transport import Encoding, media_encoding, read_body
from functions._bootstrap import container

log = logging.getLogger(__name__)

_SIGNAL_PATHS: dict[str, Signal] = {"/v1/traces": "traces", "/v1/logs": "logs", "/v1/metrics": "metrics"}


def handle(request: flask.Request, signal: Signal | None) -> flask.Response:
    """``signal`` None: the URL names no signal, so it comes from the path or the JSON envelope."""
    if signal is None:
        signal = _SIGNAL_PATHS.get(request.path.rstrip("/"))
    content_type = request.headers.get("Content-Type")
    try:
        encoding: Encoding = media_encoding(content_type)
        mimetype = (content_type or "").split(";", 1)[0].strip().lower()
    except CoreError:
        encoding, mimetype = "json", "application/json"  # an error body for an unknown media type is JSON
    try:
        c = container()  # a store that cannot open yet is a 503 the exporter retries, not a lost batch
        if request.method != "POST":
            raise MethodNotAllowed(f"method {request.method} not allowed: OTLP export uses POST")
        principal = c.keys.authorize(request.headers, "ingest")
        encoding = media_encoding(content_type)
        body = read_body(request.stream, request.headers.get("Content-Encoding"), c.settings.max_body_bytes)
        if not body:
            return _otlp(encode_response(signal or "traces", encoding), 200, mimetype)
        with c.ingest_gate:  # after the body is read: a slow upload holds no other request back
            signal, message = decode_request(signal, body, encoding)
            result = c.ingest.ingest(principal.org_id, signal, message, hashlib.sha1(body).hexdigest())
    except CoreError as exc:
        if exc.status >= 500:
            log.warning("ingest unavailable: %s", exc.message)
        response = _otlp(encode_status(RPC_CODES.get(exc.status, 2), exc.message, encoding), exc.status, mimetype)
        if exc.retryable:
            response.headers["Retry-After"] = str(get_settings().retry_after_s)
        if exc.status == 405:
            response.headers["Allow"] = "POST"
        return response
    return _otlp(encode_response(signal, encoding, result.rejected, result.message), 200, mimetype)


def _otlp(body: bytes, status: int, mimetype: str) -> flask.Response:
    """Response Content-Type equals the request's (OTLP/HTTP spec)."""
    return flask.Response(body, status=status, mimetype=mimetype)
