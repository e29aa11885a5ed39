"""Entry point `query`: the read API under /api/observatory (auth scope `read`, the caller's org only)."""

from __future__ import annotations

from typing import Any

import flask
from pydantic import BaseModel, ValidationError

from core import queries
from core.errors import BadParameter, CoreError, MethodNotAllowed, NotFound
from core.models import MetricQuery, SpanQuery, TraceQuery
from core.routes import match
from functions._bootstrap import container
from functions._http import error_response, json_response


def _params(model: type[BaseModel], request: flask.Request) -> Any:
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as exc:
        err = exc.errors()[0]
        name = ".".join(str(p) for p in err["loc"]) or "query"
        raise BadParameter(f"invalid parameter '{name}': {err['msg']}") from None


def query(request: flask.Request) -> flask.Response:
    c = container()
    try:
        found = match(request.path, "query")
        if found is None:
            raise NotFound(f"no route for {request.path}")
        route, path = found
        if request.method not in route.methods:
            raise MethodNotAllowed(f"method {request.method} not allowed on {route.path}")
        org = c.keys.authorize(request.headers, "read").org_id
        store = c.store
        op = route.operation
        result: Any
        if op == "list_traces":
            result = queries.list_traces(store, org, _params(TraceQuery, request))
        elif op == "get_trace":
            result = queries.get_trace(store, org, path["trace_id"])
        elif op == "list_spans":
            result = queries.list_spans(store, org, _params(SpanQuery, request))
        elif op == "list_sessions":
            page = _params(TraceQuery, request)  # the shared limit/offset rules
            result = queries.list_sessions(store, org, page.limit, page.offset)
        elif op == "get_session":
            result = queries.get_session(store, org, path["session_id"])
        elif op == "session_tools":
            result = queries.session_tools(store, org, path["session_id"])
        elif op == "session_llm_calls":
            result = queries.session_llm_calls(store, org, path["session_id"])
        elif op == "session_events":
            result = queries.session_events(store, org, path["session_id"])
        elif op == "session_metrics":
            result = queries.session_metrics(store, c.prices, org, path["session_id"])
        else:
            result = queries.list_metrics(store, org, _params(MetricQuery, request))
    except CoreError as exc:
        return error_response(exc, c.settings.retry_after_s)
    return json_response(result)
