"""Entry point `ingest_otlp`: any OTLP signal on one URL (Gemini CLI posts all three to its endpoint)."""

from __future__ import annotations

import flask

from functions._ingest import handle


def ingest_otlp(request: flask.Request) -> flask.Response:
    return handle(request, None)
