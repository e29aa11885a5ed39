"""Entry point `spans`: span reads, enriched views, CRUD and span events under /api/observatory/spans."""

from __future__ import annotations

import flask

from core import spans_api
from core.hierarchy import enriched
from core.hierarchy.models import (
    EnrichedSpanDetail,
    EnrichedSpanList,
    EnrichedSpanQuery,
    SpanCreate,
    SpanEventCreate,
    SpanEventList,
    SpanEventView,
    SpanUpdate,
)
from core.models import SpanList, SpanQuery, SpanView
from functions._api import Call, Operation, serve


def _delete(c: Call) -> None:
    spans_api.delete_span(c.services.store, c.org_id, c.path["span_id"])


OPERATIONS: dict[str, Operation] = {
    "list_spans": Operation(lambda c: spans_api.list_spans(c.services.store, c.org_id, c.params), SpanList,
                            SpanQuery),
    "create_span": Operation(
        lambda c: spans_api.create_span(c.services.store, c.services.prices, c.org_id, c.body), SpanView,
        body=SpanCreate, status=201),
    "list_enriched_spans": Operation(
        lambda c: enriched.list_enriched_spans(c.services.store, c.org_id, c.params), EnrichedSpanList,
        EnrichedSpanQuery),
    "get_span": Operation(lambda c: spans_api.get_span(c.services.store, c.org_id, c.path["span_id"]), SpanView),
    "update_span": Operation(
        lambda c: spans_api.update_span(c.services.store, c.services.prices, c.org_id, c.path["span_id"], c.body),
        SpanView, body=SpanUpdate),
    "delete_span": Operation(_delete, None, status=204),
    "get_enriched_span": Operation(
        lambda c: enriched.get_enriched_span(c.services.store, c.org_id, c.path["span_id"]), EnrichedSpanDetail),
    "list_span_events": Operation(
        lambda c: spans_api.list_span_events(c.services.store, c.org_id, c.path["span_id"]), SpanEventList),
    "add_span_event": Operation(
        lambda c: spans_api.add_span_event(c.services.store, c.org_id, c.path["span_id"], c.body), SpanEventView,
        body=SpanEventCreate, status=201),
}


def spans(request: flask.Request) -> flask.Response:
    return serve(request, "spans", OPERATIONS)
