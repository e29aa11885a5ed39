"""The normalised records of a stored batch in a bus message, and back (what the analytics export receives).

Records travel as top-level lists of the message (`spans`, `events`, `llm_calls`, `tool_calls`,
`metric_points`, `session_records`), so a message over the Pub/Sub cap splits into parts that each carry
some of them (core.adapters.pubsub_bus.split_payload halves the longest top-level list). Ingest writes each record
as the list of its field values (its usage and links nested the same way), and the field names of every record
type once, under `record_fields`: three times cheaper to encode than objects (orjson walks a slotted dataclass
field by field), and a message written by a version with other fields still decodes by name. Records written as
objects (hook messages) decode too.
"""

from __future__ import annotations

from dataclasses import fields
from operator import attrgetter
from typing import Any

import orjson

from core.errors import InvalidPayload
from core.records import (
    Batch,
    EventRecord,
    Links,
    LlmCallRecord,
    MetricPointRecord,
    SessionRecord,
    SpanRecord,
    ToolCallRecord,
    Usage,
)

RECORD_KEYS = ("spans", "events", "llm_calls", "tool_calls", "metric_points", "session_records")
# Producers (core.ingest.ingested_message, core.hooks) write the entities a message touched first, then
# `stored_ns` and the records. Outside a string this key can only be the real one: a JSON string escapes its quotes.
_RECORDS_FROM = b',"stored_ns":'


def encode_extra(value: object) -> object:
    """orjson's `default`: the one non-JSON type records hold (a session's set of models)."""
    if isinstance(value, set):
        return sorted(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


_RECORD_TYPES = (SpanRecord, EventRecord, LlmCallRecord, ToolCallRecord, MetricPointRecord, SessionRecord, Usage,
                 Links)
_FIELD_NAMES: dict[type, tuple[str, ...]] = {cls: tuple(f.name for f in fields(cls)) for cls in _RECORD_TYPES}
_VALUES: dict[type, attrgetter[Any]] = {cls: attrgetter(*names) for cls, names in _FIELD_NAMES.items()}
_RECORD_FIELDS = {cls.__name__: list(names) for cls, names in _FIELD_NAMES.items()}


def _as_row(value: object) -> object:
    """orjson's `default` for `encode_records`: a record (passed through as a dataclass) as its field values."""
    getter = _VALUES.get(type(value))
    if getter is not None:
        return getter(value)
    return encode_extra(value)


def encode_records(batch: Batch) -> bytes:
    """The batch's records as the JSON object that ends a message carrying them (core.ingest.ingested_message):
    `record_fields`, then each record as the list of its field values."""
    return orjson.dumps({"record_fields": _RECORD_FIELDS, **record_lists(batch)},
                        option=orjson.OPT_PASSTHROUGH_DATACLASS, default=_as_row)


def message_header(payload: bytes) -> Any:
    """The JSON of a `telemetry-ingested` message without its records: what the aggregate worker reads (org, the
    sessions, traces and tasks touched), parsed without decoding the records (most of a message's bytes when it
    carries them for the analytics export). Raises ValueError when the payload is not JSON."""
    cut = payload.find(_RECORDS_FROM)
    if cut > 0:
        try:
            return orjson.loads(payload[:cut] + b"}")
        except orjson.JSONDecodeError:
            pass  # not the layout producers write: read the whole message
    return orjson.loads(payload)


def record_lists(batch: Batch) -> dict[str, list[Any]]:
    """The batch's record lists under their message keys."""
    return {"spans": batch.spans, "events": batch.events, "llm_calls": batch.llm_calls, "tool_calls": batch.tool_calls,
            "metric_points": batch.metric_points, "session_records": list(batch.sessions.values())}


def _build(cls: type[Any], data: Any, nested: dict[str, type[Any]], sent: dict[str, tuple[Any, ...]]) -> Any:
    """A record from its field values (under the names ``sent`` gives its type) or from an object."""
    names = _FIELD_NAMES[cls]
    if isinstance(data, list):
        sent_names = sent.get(cls.__name__)
        if sent_names is None or len(sent_names) != len(data):
            raise InvalidPayload(f"a {cls.__name__} row does not match the message's field names")
        if sent_names != names:  # written by a version with other fields: matched by name
            data = dict(zip(sent_names, data, strict=True))
    elif not isinstance(data, dict):
        raise InvalidPayload(f"a {cls.__name__} must be a JSON list or object")
    try:
        if isinstance(data, list) or tuple(data) == names:  # every field, in order
            record = cls(*data) if isinstance(data, list) else cls(*data.values())
            for name, kind in nested.items():
                value = getattr(record, name)
                if isinstance(value, (list, dict)):
                    setattr(record, name, _build(kind, value, {}, sent))
            return record
        values = {name: data[name] for name in names if name in data}
        for name, kind in nested.items():
            if isinstance(values.get(name), (list, dict)):
                values[name] = _build(kind, values[name], {}, sent)
        return cls(**values)
    except TypeError as exc:
        raise InvalidPayload(f"malformed {cls.__name__}: {exc}") from exc


def batch_from_message(message: dict[str, Any]) -> Batch:
    """The records a `telemetry-ingested` message carries (none when its producer sent only ids)."""
    org_id = message.get("org_id")
    if not isinstance(org_id, str):
        raise InvalidPayload("message has no org_id")
    fields_sent = message.get("record_fields")
    sent = {k: tuple(v) for k, v in fields_sent.items()
            if isinstance(v, list) and all(isinstance(n, str) for n in v)} if isinstance(fields_sent, dict) else {}
    usage_links = {"usage": Usage, "links": Links}
    batch = Batch(org_id=org_id)
    batch.spans = [_build(SpanRecord, d, usage_links, sent) for d in message.get("spans") or ()]
    batch.events = [_build(EventRecord, d, {}, sent) for d in message.get("events") or ()]
    batch.llm_calls = [_build(LlmCallRecord, d, usage_links, sent) for d in message.get("llm_calls") or ()]
    batch.tool_calls = [_build(ToolCallRecord, d, {}, sent) for d in message.get("tool_calls") or ()]
    batch.metric_points = [_build(MetricPointRecord, d, {}, sent) for d in message.get("metric_points") or ()]
    for d in message.get("session_records") or ():
        rec: SessionRecord = _build(SessionRecord, d, {}, sent)
        rec.models = set(rec.models or ())
        batch.sessions[rec.session_id] = rec
    return batch


def merge_batches(batches: list[Batch]) -> Batch:
    """One batch of an org holding the records of several, in order (a later record of a key comes later, so a
    writer that keeps the last row per key keeps the newest); session sightings merge as ingest merges them."""
    out = Batch(org_id=batches[0].org_id)
    for b in batches:
        if b.org_id != out.org_id:
            raise ValueError("cannot merge batches of different orgs")
        out.spans += b.spans
        out.events += b.events
        out.llm_calls += b.llm_calls
        out.tool_calls += b.tool_calls
        out.metric_points += b.metric_points
        for sid, rec in b.sessions.items():
            have = out.sessions.get(sid)
            if have is None:
                out.sessions[sid] = rec
                continue
            have.first_seen_ns = min(have.first_seen_ns, rec.first_seen_ns) if have.first_seen_ns else rec.first_seen_ns
            have.last_seen_ns = max(have.last_seen_ns, rec.last_seen_ns)
            have.models |= rec.models
            for name in ("service_name", "workspace", "user_id", "user_email", "account_org", "app_version",
                         "terminal_type"):
                if getattr(rec, name) is not None:
                    setattr(have, name, getattr(rec, name))
            if rec.source_type != "other":
                have.source_type = rec.source_type
    return out
