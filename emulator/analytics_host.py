"""One process for every function that touches embedded ClickHouse: the HTTP analytics routes and the export
worker's Pub/Sub pushes (embedded ClickHouse opens in one process only, DESIGN §8)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import flask

from core.workers import MESSAGE_PUBLISHED
from emulator.local_server import local_stack

_PUSH_PREFIX = "/projects/"  # emulator/pubsub_setup.push_endpoint: <url>/projects/<p>/topics/<t>


@dataclass(frozen=True)
class PushEvent:
    """A raw Pub/Sub push as the CloudEvent functions-framework would have made of it (what Worker decodes)."""

    data: dict[str, Any]
    source: str

    def __getitem__(self, name: str) -> Any:
        return {"type": MESSAGE_PUBLISHED, "source": self.source, "id": self.data["message"].get("messageId")}[name]


def analytics_host(request: flask.Request) -> flask.Response:
    if request.method == "POST" and request.path.startswith(_PUSH_PREFIX) and "/topics/" in request.path:
        from functions._workers import workers

        try:
            body = json.loads(request.get_data())
            message = body["message"]
        except (ValueError, KeyError, TypeError):
            return flask.Response("not a Pub/Sub push", status=400)
        event = PushEvent({"message": message, "subscription": body.get("subscription", "")},
                          f"//pubsub.googleapis.com{request.path}")
        workers().export_clickhouse(event)  # raises (500: redelivered) on a transient failure
        return flask.Response("", status=204)
    return local_stack(request)
