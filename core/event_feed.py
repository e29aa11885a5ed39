"""The event feed: pages of the event log by cursor, and the same log as a bounded server-sent-event stream."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.errors import BadParameter
from core.events import EVENT_TYPES
from core.models import MAX_LIMIT
from core.ports.event_log import EventLogStore

log = logging.getLogger(__name__)

_MAX_SEQ = 2**62  # SQLite integers are 64-bit
POLL_S = 0.5  # how often a stream looks for new events
HEARTBEAT_S = 10.0  # a comment line this often keeps proxies from closing an idle stream
RETRY_MS = 1000  # how soon a browser's EventSource reconnects after a stream ends


class ChangeEventView(BaseModel):
    """One entry of the event log."""

    seq: int = Field(description="The cursor: increases in commit order; pass the last one seen as `since`")
    type: str
    subject_id: str | None = None
    workspace_id: str | None = None
    task_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict, description="Ids, names, statuses and counts only")
    created_at: datetime


class ChangeEventPage(BaseModel):
    """A page of the event log; ask again with `since=next_since` (the same value when nothing was new)."""

    events: list[ChangeEventView]
    next_since: int
    count: int


class EventQuery(BaseModel):
    """The feed's filters and cursor; `timeout` bounds a stream."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    since: int | None = Field(None, ge=0, le=_MAX_SEQ, description=(
        "The last sequence number seen (JSON: default 0; a stream without it or Last-Event-ID starts at the "
        "newest event)"))
    limit: int = Field(50, ge=1, description="Events per page (at most 1000)")
    workspace_id: str | None = None
    task_id: str | None = None
    types: str | None = Field(None, description="Comma-separated event types, e.g. task.created,span.created")
    timeout: float = Field(25.0, gt=0, le=60, description=(
        "With Accept: text/event-stream, seconds the stream stays open (default 25, at most 60)"))

    @field_validator("limit")
    @classmethod
    def _cap(cls, value: int) -> int:
        return min(value, MAX_LIMIT)

    @field_validator("types")
    @classmethod
    def _known(cls, value: str | None) -> str | None:
        if value is None:
            return None
        names = [n.strip() for n in value.split(",") if n.strip()]
        for name in names:
            if name not in EVENT_TYPES:
                raise ValueError(f"unknown event type '{name}' (known: {', '.join(EVENT_TYPES)})")
        return ",".join(dict.fromkeys(names))

    @property
    def type_list(self) -> tuple[str, ...]:
        return tuple(self.types.split(",")) if self.types else ()


def _header_cursor(last_event_id: str | None) -> int | None:
    if last_event_id is None or not last_event_id.strip():
        return None
    text = last_event_id.strip()
    if not text.isdigit() or int(text) > _MAX_SEQ:
        raise BadParameter("invalid header 'Last-Event-ID': must be an event sequence number")
    return int(text)


def list_events(store: EventLogStore, org_id: str, q: EventQuery, last_event_id: str | None = None
                ) -> ChangeEventPage:
    """One page after the cursor (`Last-Event-ID`, as a stream's reconnect sends it, wins over `since`)."""
    cursor = _header_cursor(last_event_id)
    since = cursor if cursor is not None else q.since or 0
    events = store.list_events(org_id, since, q.limit, q.type_list, q.workspace_id, q.task_id)
    return ChangeEventPage(events=events, next_since=events[-1].seq if events else since, count=len(events))


def wants_stream(accept: str | None) -> bool:
    """Whether the client asked for `text/event-stream` (and does not prefer JSON)."""
    if not accept:
        return False
    weights: dict[str, float] = {}
    for part in accept.split(","):
        media, _, params = part.partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        weights[media.strip().lower()] = q
    stream = weights.get("text/event-stream", 0.0)
    return stream > 0 and stream >= weights.get("application/json", 0.0)


def sse_frame(event: ChangeEventView) -> str:
    """One event in the text/event-stream format (the JSON is one line: JSON escapes every newline)."""
    return f"id: {event.seq}\nevent: {event.type}\ndata: {event.model_dump_json()}\n\n"


def open_stream(store: EventLogStore, org_id: str, q: EventQuery, last_event_id: str | None = None,
                clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                poll_s: float = POLL_S, heartbeat_s: float = HEARTBEAT_S) -> Iterator[str]:
    """The stream's chunks: events as they are written, a comment heartbeat while idle, and the end after
    ``q.timeout`` seconds (so it fits a function's timeout; the client reconnects with `Last-Event-ID`).
    The cursor is resolved here, before the first chunk, so a bad one is a 400 rather than a broken stream."""
    cursor = _header_cursor(last_event_id)
    if cursor is None:
        cursor = q.since if q.since is not None else store.last_event_seq(org_id)
    return _stream(store, org_id, q, cursor, clock, sleep, poll_s, heartbeat_s)


def _stream(store: EventLogStore, org_id: str, q: EventQuery, since: int, clock: Callable[[], float],
            sleep: Callable[[float], None], poll_s: float, heartbeat_s: float) -> Iterator[str]:
    deadline = clock() + q.timeout
    yield f"retry: {RETRY_MS}\n: stream open at {since}\n\n"
    last_sent = clock()
    while True:
        try:
            events = store.list_events(org_id, since, q.limit, q.type_list, q.workspace_id, q.task_id)
        except Exception:  # headers are sent: end the stream; the client reconnects from its cursor
            log.exception("event stream of org %s ended early", org_id)
            return
        for event in events:
            yield sse_frame(event)
            since = event.seq
        now = clock()
        if events:
            last_sent = now
        if now >= deadline:
            return
        if len(events) == q.limit:  # more are waiting: no pause
            continue
        if now - last_sent >= heartbeat_s:
            yield ": heartbeat\n\n"
            last_sent = now
        sleep(min(poll_s, deadline - now))
