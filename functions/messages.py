"""Entry point `messages`: the inbox messages of the caller's org (read and archive change their status)."""

from __future__ import annotations

import flask

from core.catalog import service
from core.catalog.models import Message, MessageCreate, MessageList, MessageQuery, MessageUpdate
from functions._api import Operation, serve

OPERATIONS: dict[str, Operation] = {
    "list_messages": Operation(lambda c: service.list_messages(c.services.store, c.org_id, c.params), MessageList,
                               MessageQuery),
    "create_message": Operation(lambda c: service.create_message(c.services.store, c.org_id, c.body), Message,
                                body=MessageCreate, status=201),
    "get_message": Operation(
        lambda c: service.get_message(c.services.store, c.org_id, c.path["message_id"]), Message),
    "update_message": Operation(
        lambda c: service.update_message(c.services.store, c.org_id, c.path["message_id"], c.body), Message,
        body=MessageUpdate),
    "delete_message": Operation(
        lambda c: service.delete_message(c.services.store, c.org_id, c.path["message_id"]), None, status=204),
    "read_message": Operation(
        lambda c: service.set_message_status(c.services.store, c.org_id, c.path["message_id"], "read"), Message),
    "archive_message": Operation(
        lambda c: service.set_message_status(c.services.store, c.org_id, c.path["message_id"], "archived"),
        Message),
}


def messages(request: flask.Request) -> flask.Response:
    return serve(request, "messages", OPERATIONS)
