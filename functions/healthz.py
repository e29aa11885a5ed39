"""Entry point `healthz`: 200 once the store is open and migrated."""

from __future__ import annotations

import flask

from functions._bootstrap import container
from functions._http import json_response


def healthz(request: flask.Request) -> flask.Response:
    c = container()
    return json_response({"status": "ok", "schema_version": getattr(c.store, "schema_version", None)})
