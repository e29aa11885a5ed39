"""Entry point `healthz`: 200 once the store is open and migrated, 503 while it cannot open."""

from __future__ import annotations

import flask

from core.config import get_settings
from core.errors import CoreError
from functions._bootstrap import container
from functions._http import error_response, json_response


def healthz(request: flask.Request) -> flask.Response:
    try:
        c = container()
    except CoreError as exc:  # not ready: the store cannot open yet
        return error_response(exc, get_settings().retry_after_s)
    return json_response({"status": "ok", "schema_version": getattr(c.store, "schema_version", None)})
