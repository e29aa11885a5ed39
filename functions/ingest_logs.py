"""Entry point `ingest_logs`: OTLP/HTTP logs at /v1/logs and at the function's own root."""

from __future__ import annotations

import flask

from functions._ingest import handle


def ingest_logs(request: flask.Request) -> flask.Response:
    return handle(request, "logs")
