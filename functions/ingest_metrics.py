"""Entry point `ingest_metrics`: OTLP/HTTP metrics at /v1/metrics and at the function's own root."""

from __future__ import annotations

import flask

from functions._ingest import handle


def ingest_metrics(request: flask.Request) -> flask.Response:
    return handle(request, "metrics")
