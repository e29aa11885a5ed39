"""Entry point `events`: the event log of the caller's org, as JSON pages or a bounded text/event-stream."""

from __future__ import annotations

from typing import Any

import flask

from core import event_feed
from core.event_feed import ChangeEventPage, EventQuery
from functions._api import Call, Operation, serve


def _list_events(call: Call) -> Any:
    store, last_id = call.services.store, call.headers.get("Last-Event-ID")
    if not event_feed.wants_stream(call.headers.get("Accept")):
        return event_feed.list_events(store, call.org_id, call.params, last_id)
    chunks = event_feed.open_stream(store, call.org_id, call.params, last_id)
    # Each chunk goes to the client as it is yielded; proxies are asked not to buffer or cache.
    return flask.Response(chunks, mimetype="text/event-stream",
                          headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


OPERATIONS: dict[str, Operation] = {
    "list_events": Operation(_list_events, ChangeEventPage, EventQuery),
}


def events(request: flask.Request) -> flask.Response:
    return serve(request, "events", OPERATIONS)
