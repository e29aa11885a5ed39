"""One process for every function that touches embedded ClickHouse: the HTTP analytics routes and the export
worker's Pub/Sub pushes (embedded ClickHouse opens in one process only, DESIGN §8)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import flask

from core.workers import MESSAGE_PUBLISHED
from emulator.local_server import local_stack

# Pushes arrive at <host>/workers/<worker>/projects/<p>/topics/<t> (emulator/cloud_stack.py names the worker, since
# two workers subscribe to one topic; pubsub_setup.push_endpoint appends the topic).
_PUSH_PREFIX = "/workers/"


@dataclass(frozen=True)
class PushEvent:
    """A raw Pub/Sub push as the CloudEvent functions-framework would have made of it (what Worker decodes)."""

    data: dict[str, Any]
    source: str

    def __getitem__(self, name: str) -> Any:
        return {"type": MESSAGE_PUBLISHED, "source": self.source, "id": self.data["message"].get("messageId")}[name]


def analytics_host(request: flask.Request) -> flask.Response:
    if request.method == "POST" and request.path.startswith(_PUSH_PREFIX):
        from functions._workers import workers

        worker, _, topic_path = request.path[len(_PUSH_PREFIX):].partition("/")
        if worker not in ("aggregate", "export_clickhouse"):
            return flask.Response(f"no worker {worker!r} here", status=404)
        try:
            body = json.loads(request.get_data())
            message = body["message"]
        except (ValueError, KeyError, TypeError):
            return flask.Response("not a Pub/Sub push", status=400)
        event = PushEvent({"message": message, "subscription": body.get("subscription", "")},
                          f"//pubsub.googleapis.com/{topic_path}")
        getattr(workers(), worker)(event)  # raises (500: redelivered) on a transient failure
        return flask.Response("", status=204)
    return local_stack(request)
