"""The local stack's single functions-framework target: dispatches each request by the route table."""

from __future__ import annotations

import importlib

import flask

from core.config import get_settings
from core.errors import CoreError, NotFound
from core.routes import ANALYTICS_FUNCTIONS, match, resolve
from emulator.analytics_forward import forward
from functions._http import error_response


def local_stack(request: flask.Request) -> flask.Response:
    candidates = match(request.path)
    try:
        if request.method == "OPTIONS" and candidates:  # CORS preflight: the owning function answers it
            route = candidates[0][0]
        elif candidates and candidates[0][0].operation == "ingest":
            route = candidates[0][0]  # OTLP paths answer 405 themselves, with a google.rpc.Status body
        else:
            route, _ = resolve(request.method, request.path)
        settings = get_settings()
        if settings.analytics_host_url and route.function in ANALYTICS_FUNCTIONS \
                and (route.function != "insights" or settings.insights_on_analytics):
            return forward(request, settings.analytics_host_url)
    except CoreError as exc:
        return error_response(exc)
    module = importlib.import_module(f"functions.{route.function}")
    response: flask.Response = getattr(module, route.function)(request)
    return response


def _no_route(exc: Exception) -> flask.Response:
    """Paths Flask itself cannot route (a control character in a segment) answer like every other 404."""
    return error_response(NotFound(f"no route for {flask.request.path!r}"))


# functions-framework loads this module inside its app's context: the app's own 404 becomes a JSON error too.
if flask.has_app_context():
    flask.current_app.register_error_handler(404, _no_route)
