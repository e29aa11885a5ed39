"""The JSON API request cycle shared by every non-OTLP entry point: route, CORS, auth, parse, call, render."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import flask
from pydantic import BaseModel, ValidationError

from core.auth import Headers
from core.config import get_settings
from core.errors import BadParameter, CoreError, InvalidPayload
from core.otlp.transport import read_body
from core.routes import Route, resolve
from functions._bootstrap import Container, container
from functions._http import error_response, json_response


@dataclass(frozen=True)
class Call:
    """What a handler gets: the caller's org, path parameters, the validated query and body, the services."""

    org_id: str
    path: dict[str, str]
    params: Any
    body: Any
    headers: Headers
    services: Container


@dataclass(frozen=True)
class Operation:
    """One operation of the route table: its handler and the models OpenAPI and validation derive from.

    ``params``: query-string model; ``body``: JSON request model; ``response``: what a 2xx returns (a pydantic
    model class; None only with ``status=204``)."""

    handler: Callable[[Call], Any]
    response: type[BaseModel] | None
    params: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    status: int = 200
    tags: tuple[str, ...] = field(default=())


def _validated(model: type[BaseModel], data: Any, where: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = ".".join(str(p) for p in err["loc"]) or where
        kind = "parameter" if where == "query" else "field"
        raise BadParameter(f"invalid {kind} '{name}': {err['msg']}") from None


def _json_body(request: flask.Request, limit: int) -> Any:
    raw = read_body(request.stream, request.headers.get("Content-Encoding"), limit)
    if not raw.strip():
        raise InvalidPayload("request body is empty: expected a JSON object")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidPayload(f"request body is not valid JSON: {exc}") from None


def _cors_headers(request: flask.Request, allowed: tuple[str, ...]) -> dict[str, str]:
    origin = request.headers.get("Origin")
    if not origin or not (origin in allowed or "*" in allowed):
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Vary": "Origin",
        "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, OPTIONS",
        "Access-Control-Allow-Headers": ("Authorization, Content-Type, X-Observatory-Key, Idempotency-Key, X-Task-ID, "
                                         "Last-Event-ID"),
        "Access-Control-Max-Age": "600",
    }


def serve(request: flask.Request, function: str, operations: Mapping[str, Operation]) -> flask.Response:
    """Serve one request for ``function``; every failure is a JSON ``{"error": ...}`` with its status."""
    settings = get_settings()
    cors = _cors_headers(request, settings.cors_origins)
    if request.method == "OPTIONS":  # a preflight: no auth, the browser sends no key
        return flask.Response(status=204 if cors else 403, headers=cors)
    try:
        c = container()
        route, path = resolve(request.method, request.path, function)
        op = operations[route.operation]
        org = c.keys.authorize(request.headers, route.scope).org_id
        params = _validated(op.params, request.args.to_dict(), "query") if op.params else None
        body = _validated(op.body, _json_body(request, c.settings.max_body_bytes), "body") if op.body else None
        result = op.handler(Call(org, path, params, body, request.headers, c))
    except CoreError as exc:
        response = error_response(exc, settings.retry_after_s)
        response.headers.update(cors)
        return response
    if isinstance(result, flask.Response):  # a handler that renders itself (an event stream) passes through
        result.headers.update(cors)
        return result
    if op.status == 204:
        return flask.Response(status=204, headers=cors)
    return json_response(result, op.status, cors or None)


def operations_of(route: Route) -> Operation:
    """The Operation serving ``route`` (imports its function module; used by the OpenAPI document)."""
    import importlib

    module = importlib.import_module(f"functions.{route.function}")
    ops: Mapping[str, Operation] = module.OPERATIONS
    return ops[route.operation]
