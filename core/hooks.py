"""Claude Code hooks: the payload Claude Code sends a hook on stdin, normalised, masked and recorded.

Effects by `hook_event_name` (every hook also upserts its session, workspace from `cwd`, and is kept as a
session event; names this module does not know only do that, so a newer Claude Code is never refused):
  SessionStart           opens the session (`source`: startup, resume, clear, compact; a resume reopens it;
                         `model` joins the session's models)
  UserPromptSubmit       the masked `prompt` becomes a `claude_code.user_prompt` event (the session's turns)
  PreToolUse             a tool call starts: `tool_use_id`, `tool_name`, masked `tool_input`
  PostToolUse            the call ends: masked `tool_response`, success, duration = end - start; matched by
                         `tool_use_id`, else to the latest unfinished call of that tool in the session
  PostToolUseFailure     as PostToolUse, failed (`error`)
  Stop, SubagentStop     last seen
  Notification           the masked `message` is the event's body
  SessionEnd             the session ends (`reason`)

A hook has no time of its own: `X-Observatory-Hook-Time` (RFC 3339, or integer nanoseconds since the epoch;
the `observatory hook` command sends the moment it was run) else the time the server received it. A replay of
the same payload (with the same hook time, when one is given) changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints

from core.auth import Headers
from core.catalog.models import Id
from core.errors import BadParameter
from core.normalise.attributes import valid_ns
from core.normalise.content import mask_text
from core.ports.bus import TELEMETRY_INGESTED
from core.ports.hook_records import HookEffects, HookLinks, HookRecord, ToolEnd, ToolStart
from core.ports.hooks import HookStore
from core.ports.span_views import SPAN_SESSIONS
from core.record_codec import encode_extra
from core.records import EventRecord, SessionRecord, ToolCallRecord
from core.redact import mask_value

TIME_HEADER = "X-Observatory-Hook-Time"
LINK_HEADERS = {
    "task_id": "X-Observatory-Task-ID",
    "chain_id": "X-Observatory-Chain-ID",
    "stage_id": "X-Observatory-Stage-ID",
    "message_id": "X-Observatory-Message-ID",
}
# Tool inputs and results are stored up to this many characters (after masking, so no secret is half cut).
MAX_CONTENT_CHARS = 256 * 1024
_MAX_ERROR_CHARS = 4096
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_Name = Annotated[str, StringConstraints(min_length=1, max_length=100)]
_Short = Annotated[str, StringConstraints(max_length=200)]
_Path = Annotated[str, StringConstraints(max_length=4096)]


class HookPayload(BaseModel):
    """The JSON a Claude Code hook receives on stdin (unknown fields are ignored); correlation ids may also come
    as headers (`X-Observatory-Task-ID`, `-Chain-ID`, `-Stage-ID`, `-Message-ID`), which win."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    hook_event_name: _Name
    session_id: Id
    transcript_path: _Path | None = None
    cwd: _Path | None = None
    model: _Short | None = None
    tool_name: _Short | None = None
    tool_input: JsonValue = None
    tool_response: JsonValue = None
    tool_use_id: _Short | None = None
    prompt: str | None = None
    message: str | None = None
    source: _Short | None = None
    reason: _Short | None = None
    error: JsonValue = None
    task_id: Id | None = None
    chain_id: Id | None = None
    stage_id: Id | None = None
    message_id: Id | None = None


class HookAck(BaseModel):
    """What a hook gets back: the session it was recorded for and the tool call it started or finished."""

    ok: bool = True
    session_id: str
    hook_event_name: str
    tool_use_id: str | None = None
    replayed: bool = Field(False, description="the same hook was recorded before; nothing changed")


_TOOL_EVENTS = frozenset({"PreToolUse", "PostToolUse", "PostToolUseFailure"})
_EVENT_NAMES = {"UserPromptSubmit": "claude_code.user_prompt"}


def receive_hook(store: HookStore, org_id: str, payload: HookPayload, headers: Headers,
                 now_ns: int | None = None) -> HookAck:
    """Record one hook for the org; raises BadParameter naming a bad header or a missing tool field."""
    record = hook_record(payload, headers, now_ns)
    outcome = store.record_hook(org_id, record, lambda effects: [_notice(org_id, record, effects)])
    return HookAck(session_id=record.session_id, hook_event_name=record.hook_event_name,
                   tool_use_id=outcome.tool_use_id, replayed=outcome.replayed)


def hook_record(payload: HookPayload, headers: Headers, now_ns: int | None = None) -> HookRecord:
    """The normalised, masked record of a payload. Its key digests the payload, the links and the hook time when
    one is given: without one, the same payload again is taken for a replay (a repeated Stop or notification
    then only counts once; `observatory hook` always sends the time, so it never loses one)."""
    event = _clean(payload.hook_event_name)
    if event in _TOOL_EVENTS and not payload.tool_name:
        raise BadParameter(f"invalid field 'tool_name': required for {event}")
    given_ns = _header_time(headers.get(TIME_HEADER))
    links = _links(payload, headers)
    digest = hashlib.sha256(json.dumps(
        [payload.model_dump(mode="json"), [links.task_id, links.chain_id, links.stage_id, links.message_id],
         given_ns], sort_keys=True, default=str).encode()).hexdigest()[:40]
    redactions: dict[str, int] = {}
    attributes, body = _event(payload, event, links, redactions)
    tool_start, tool_end = _tool(payload, event, f"hook:{digest[:32]}", redactions)
    return HookRecord(
        key=f"hook:{digest}", session_id=payload.session_id,
        time_ns=given_ns if given_ns is not None else (now_ns if now_ns is not None else time.time_ns()),
        hook_event_name=event, event_name=_EVENT_NAMES.get(event) or f"claude_code.hook.{_snake(event)}",
        workspace=_clean(payload.cwd) or None, transcript_path=_clean(payload.transcript_path) or None,
        model=_clean(payload.model) or None,
        starts_session=event == "SessionStart", start_source=_clean(payload.source) if event == "SessionStart"
        else None, ends_session=event == "SessionEnd", end_reason=_clean(payload.reason) if event == "SessionEnd"
        else None, links=links, tool_start=tool_start, tool_end=tool_end, event_body=body,
        event_attributes=attributes, redactions=redactions,
    )


def _event(payload: HookPayload, event: str, links: HookLinks, redactions: dict[str, int]
           ) -> tuple[dict[str, Any], str | None]:
    """The session event's attributes and body: names, links, the masked prompt or message; no tool content."""
    attributes: dict[str, Any] = {"hook_event_name": event}
    for name in ("cwd", "tool_name", "source", "reason"):
        value = getattr(payload, name)
        if value:
            attributes[name] = _clean(value)
    for name, value in (("task_id", links.task_id), ("chain_id", links.chain_id), ("stage_id", links.stage_id),
                        ("message_id", links.message_id)):
        if value:
            attributes[name] = value
    if event == "UserPromptSubmit" and payload.prompt is not None:
        attributes["prompt"] = mask_text(_clean(payload.prompt), redactions)
    body = None
    if event == "Notification" and payload.message:
        body = mask_text(_clean(payload.message), redactions)
    return attributes, body


def _tool(payload: HookPayload, event: str, synthetic_id: str, redactions: dict[str, int]
          ) -> tuple[ToolStart | None, ToolEnd | None]:
    """The tool start or end of a tool hook (``synthetic_id``: the call's key when the hook names none)."""
    if event not in _TOOL_EVENTS:
        return None, None
    tool_name = _clean(payload.tool_name)
    tool_use_id = _clean(payload.tool_use_id) or None
    tool_input = _content(payload.tool_input, redactions)
    if event == "PreToolUse":
        return ToolStart(tool_use_id or synthetic_id, tool_name, tool_input), None
    success, error = tool_outcome(payload.tool_response, payload.error, failed=event == "PostToolUseFailure")
    return None, ToolEnd(
        tool_use_id=tool_use_id, fallback_id=synthetic_id, tool_name=tool_name, success=success,
        tool_input=tool_input, tool_result=_content(payload.tool_response, redactions),
        error=None if error is None else (mask_text(error, redactions) or "")[:_MAX_ERROR_CHARS])


def tool_outcome(response: Any, error: Any, failed: bool = False) -> tuple[bool, str | None]:
    """(success, error text) of a finished tool: a boolean `success` of the response decides, else `is_error` /
    `isError`, else whether there is an `error` (the payload's or the response's); a failure hook always fails."""
    found = None if error in (None, "", False) else error
    flag: bool | None = None
    if isinstance(response, dict):
        if found is None and response.get("error") not in (None, "", False):
            found = response["error"]
        if isinstance(response.get("success"), bool):
            flag = response["success"]
        elif response.get("is_error") is True or response.get("isError") is True:
            flag = False
    ok = not failed and (flag if flag is not None else found is None)
    if found is None:
        return ok, None
    return ok, _clean(found if isinstance(found, str) else json.dumps(found, ensure_ascii=False))


def _notice(org_id: str, hook: HookRecord, effects: HookEffects) -> tuple[str, bytes]:
    """The `telemetry-ingested` message of a hook: its session and linked tasks (recomputed by the aggregate
    worker), and for the analytics export the records the hook wrote as ingest would carry them (its event, its
    tool call sighting, its session sighting), plus `span_sessions` when it gave the session's spans a workspace
    or links (their stored state is copied)."""
    sid = effects.session_id
    event = EventRecord(hook.key, hook.event_name, "claude_code", hook.time_ns, sid, None, None, None, None,
                        hook.event_body, hook.stored_attributes(effects.tool_use_id), "{}")
    tools: list[ToolCallRecord] = []
    if effects.tool_use_id is not None and hook.tool_start is not None:
        start = hook.tool_start
        tools.append(ToolCallRecord(effects.tool_use_id, sid, tool_name=start.tool_name or None, time_ns=hook.time_ns,
                                    tool_input=start.tool_input))
    elif effects.tool_use_id is not None and hook.tool_end is not None:
        end = hook.tool_end
        # An end without a known start takes the end as its time; a known (earlier) start wins the min.
        tools.append(ToolCallRecord(effects.tool_use_id, sid, tool_name=end.tool_name or None, time_ns=hook.time_ns,
                                    success=end.success, error=end.error, tool_input=end.tool_input,
                                    tool_result=end.tool_result))
    seen = SessionRecord(sid, hook.time_ns, hook.time_ns, source_type="claude_code", workspace=hook.workspace,
                         models={hook.model} if hook.model else set())
    message: dict[str, Any] = {
        "org_id": org_id, "signal": "hooks", "session_ids": [sid], "trace_ids": [],
        "task_ids": sorted(set(effects.tasks)),
        "counts": {"spans": 0, "events": 1, "llm_calls": 0, "tool_calls": len(tools), "metric_points": 0},
        "stored_ns": time.time_ns(), "events": [event], "tool_calls": tools, "session_records": [seen],
    }
    if effects.spans_updated:
        message[SPAN_SESSIONS] = [sid]
    return TELEMETRY_INGESTED, orjson.dumps(message, default=encode_extra)


def _links(payload: HookPayload, headers: Headers) -> HookLinks:
    found: dict[str, str | None] = {}
    for field, header in LINK_HEADERS.items():
        raw = headers.get(header)
        value = raw.strip() if raw else ""
        if value and not _ID.match(value):
            raise BadParameter(f"invalid header '{header}': expected 1-200 characters of A-Z a-z 0-9 . _ : @ + = ~ -")
        found[field] = value or getattr(payload, field)
    return HookLinks(**found)


_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@+=~-]{0,199}$")


def _header_time(raw: str | None) -> int | None:
    if raw is None or not raw.strip():
        return None
    raw = raw.strip()
    try:
        if raw.isdigit():
            ns = int(raw)
        else:
            moment = datetime.fromisoformat(raw.replace("z", "Z").replace("Z", "+00:00"))
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
            ns = (moment - _EPOCH) // timedelta(microseconds=1) * 1000  # integer maths: no float rounding
    except (ValueError, OverflowError):
        ns = -1
    if not valid_ns(ns):
        raise BadParameter(f"invalid header '{TIME_HEADER}': expected an RFC 3339 time or integer nanoseconds "
                           "since the epoch, between 1970 and 2100")
    return ns


def _content(value: Any, redactions: dict[str, int]) -> str | None:
    """Masked JSON text of a tool input or response (a string stays itself), cut to MAX_CONTENT_CHARS."""
    if value is None:
        return None
    masked, found = mask_value(value)
    for kind, n in found.items():
        redactions[kind] = redactions.get(kind, 0) + n
    text = masked if isinstance(masked, str) else json.dumps(masked, ensure_ascii=False, separators=(",", ":"))
    text = _clean(text)
    if len(text) > MAX_CONTENT_CHARS:
        text = f"{text[:MAX_CONTENT_CHARS]}...[truncated {len(text) - MAX_CONTENT_CHARS} characters]"
    return text


def _clean(text: str | None) -> str:
    """The text as storable UTF-8: a lone surrogate (JSON may carry one as an escape) becomes "?"."""
    if not text:
        return ""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


def _snake(name: str) -> str:
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
    return re.sub(r"[^a-z0-9_]+", "_", snake).strip("_")[:64] or "unknown"
