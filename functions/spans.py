"""Entry point `spans`: span reads and CRUD under /api/observatory/spans."""

from __future__ import annotations

import flask

from core import queries
from core.models import SpanList, SpanQuery
from functions._api import Operation, serve

OPERATIONS: dict[str, Operation] = {
    "list_spans": Operation(lambda c: queries.list_spans(c.services.store, c.org_id, c.params), SpanList, SpanQuery),
}


def spans(request: flask.Request) -> flask.Response:
    return serve(request, "spans", OPERATIONS)
