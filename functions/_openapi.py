"""The OpenAPI 3.1 document of every route, derived from the route table and each operation's pydantic models."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from core.routes import ROUTES, Route

_REF = "#/components/schemas/{model}"
_ERROR = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}
_OTLP_BODY = {
    "content": {
        "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
        "application/json": {"schema": {"type": "object"}},
    },
    "required": True,
}
# Ids in paths: URL-safe characters (uuids, hex trace/span ids, "claude-<uuid>", "gemini-<id>", prefixes).
_PATH_ID = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[A-Za-z0-9._:@+=~-]+$"}
_OTLP_REPLY = {
    "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
    "application/json": {"schema": {"type": "object"}},
}
_UI_PAGE = {"text/html": {"schema": {"type": "string"}}}
_UI_ASSET = {media: {"schema": {"type": "string"}} for media in ("text/html", "text/javascript", "text/css")}
_ERRORS = {
    "400": "bad parameter or body",
    "401": "missing or unknown API key",
    "403": "the key lacks the scope, or the entity belongs elsewhere",
    "404": "no such entity",
    "405": "method not allowed",
    "409": "an entity with this id already exists",
    "413": "body too large",
    "415": "unsupported content type or encoding",
    "503": "store unavailable; retry after Retry-After seconds",
}


def _non_null(schema: dict[str, Any]) -> dict[str, Any]:
    """Query strings cannot carry null: keep the non-null branch of an optional parameter."""
    options = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    if len(options) == 1:
        merged = {k: v for k, v in schema.items() if k != "anyOf"}
        merged.update(options[0])
        return merged
    return schema


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(mode="validation")
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        prop = _non_null(dict(prop))
        description = prop.pop("description", None) or prop.pop("title", None)
        param: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if description:
            param["description"] = description
        params.append(param)
    return params


def _error_responses(route: Route) -> dict[str, Any]:
    return {code: {"description": text, "content": {"application/json": {"schema": _ERROR}}}
            for code, text in _ERRORS.items()}


@functools.cache
def openapi_document() -> dict[str, Any]:
    from functions._api import operations_of

    models: list[tuple[type[BaseModel], Any]] = []
    ops = {}
    for route in ROUTES:
        if route.operation in ("ingest", "healthz") or route.function == "ui":
            continue
        op = operations_of(route)
        ops[route] = op
        for model, mode in ((op.response, "serialization"), (op.body, "validation")):
            if model is not None and (model, mode) not in models:
                models.append((model, mode))
    refs, defs = models_json_schema(models, ref_template=_REF)

    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        item: dict[str, Any] = {
            "operationId": f"{route.function}_{route.operation}" if route.operation == "ingest" else route.operation,
            "summary": route.summary,
            "tags": [route.function],
        }
        params = [{"name": n, "in": "path", "required": True, "schema": _PATH_ID} for n in route.pattern.groupindex]
        responses: dict[str, Any]
        if route.operation == "ingest":
            item["requestBody"] = _OTLP_BODY
            # OTLP answers in the request's encoding: an Export*ServiceResponse, or a google.rpc.Status on error.
            responses = {code: {"description": text, "content": _OTLP_REPLY}
                         for code, text in {"200": "accepted (partial_success names rejected items)",
                                            **_ERRORS}.items() if code not in ("404", "409")}
        elif route.function == "ui":  # static files of the dashboard: no key, not JSON
            media = _UI_PAGE if route.operation == "ui_page" else _UI_ASSET
            responses = {"200": {"description": "the file", "content": media},
                         **{code: {"description": _ERRORS[code], "content": {"application/json": {"schema": _ERROR}}}
                            for code in ("404", "405")}}
        elif route.operation == "healthz":
            responses = {"200": {"description": "ready", "content": {"application/json": {"schema": {
                "type": "object"}}}}}
        else:
            op = ops[route]
            if op.params is not None:
                params += _query_parameters(op.params)
            if op.body is not None:
                item["requestBody"] = {"required": True, "content": {"application/json": {
                    "schema": refs[(op.body, "validation")]}}}
            if op.status == 204:
                responses = {"204": {"description": "done"}}
            else:
                schema = refs[(op.response, "serialization")] if op.response is not None else {"type": "object"}
                responses = {str(op.status): {"description": "ok", "content": {"application/json": {
                    "schema": schema}}}}
            responses.update(_error_responses(route))
        if params:
            item["parameters"] = params
        item["responses"] = responses
        if (route.scope != "ingest" or route.operation == "ingest") and route.function != "ui":
            item["security"] = [{"bearer": []}]
        paths.setdefault(route.path, {})[route.method.lower()] = item
    return {
        "openapi": "3.1.0",
        "info": {"title": "Observatory", "version": "1",
                 "description": "Observability backend for AI coding agents: OTLP/HTTP ingest and the JSON API."},
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "API key (auth is off when no keys are configured)"}},
        },
    }
