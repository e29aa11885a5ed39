"""HTTP rendering shared by the entry points: JSON bodies, `{"error": ...}` errors, CoreError mapping."""

from __future__ import annotations

import json
from typing import Any

import flask

from core.errors import CoreError


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> flask.Response:
    if hasattr(body, "model_dump_json"):
        text = body.model_dump_json()
    else:
        text = json.dumps(body, default=_default, separators=(",", ":"))
    return flask.Response(text, status=status, mimetype="application/json", headers=headers)


def _default(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def error_response(error: CoreError, retry_after_s: int = 5) -> flask.Response:
    headers = {"Retry-After": str(retry_after_s)} if error.retryable else None
    return json_response({"error": error.message}, error.status, headers)
