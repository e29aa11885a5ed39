"""The local stack's single functions-framework target: dispatches each request by the route table."""

from __future__ import annotations

import importlib

import flask

from core.errors import MethodNotAllowed, NotFound
from core.routes import match
from functions._http import error_response


def local_stack(request: flask.Request) -> flask.Response:
    found = match(request.path)
    if found is None:
        return error_response(NotFound(f"no route for {request.path}"))
    route, _ = found
    # OTLP paths answer 405 themselves, with a google.rpc.Status body.
    if request.method not in route.methods and route.operation != "ingest":
        return error_response(MethodNotAllowed(f"method {request.method} not allowed on {route.path}"))
    module = importlib.import_module(f"functions.{route.function}")
    response: flask.Response = getattr(module, route.function)(request)
    return response

