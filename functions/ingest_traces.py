"""Entry point `ingest_traces`: OTLP/HTTP traces at /v1/traces and at the function's own root."""

from __future__ import annotations

import flask

from functions._ingest import handle


def ingest_traces(request: flask.Request) -> flask.Response:
    return handle(request, "traces")
