"""The hooks area's records: what a hook reports, what recording it changed, and a session as hooks see it."""

# Kept apart from HookStore (core/ports/hooks.py) so the Store port, and an ingest function's cold start, load
# without them.

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.normalise.jsontext import compact_json


@dataclass(frozen=True, slots=True)
class HookEffects:
    """What one recorded hook changed: its session, the tasks whose spans it linked, the tool call it started or
    finished, and how many of the session's spans it gave a workspace or links."""

    session_id: str
    tasks: list[str]
    tool_use_id: str | None = None
    spans_updated: int = 0


# Given a hook's effects, the outbox messages to enqueue with the hook's write (so the session's rollup and the
# tasks' totals are recomputed, and analytics copies what changed, exactly when the facts change).
HookNotice = Callable[[HookEffects], list[tuple[str, bytes]]]


@dataclass(frozen=True, slots=True)
class HookLinks:
    """Correlation ids a hook carries (from the executor's environment): the session belongs to them."""

    task_id: str | None = None
    chain_id: str | None = None
    stage_id: str | None = None
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class ToolStart:
    """PreToolUse: a tool call starts at the hook's time (``tool_input`` already masked JSON text)."""

    tool_use_id: str
    tool_name: str
    tool_input: str | None = None


@dataclass(frozen=True, slots=True)
class ToolEnd:
    """PostToolUse: a tool call ends at the hook's time. Without ``tool_use_id`` it finishes the latest unfinished
    call of ``tool_name`` in the session started no later than the hook, else a call keyed ``fallback_id``."""

    tool_use_id: str | None
    fallback_id: str
    tool_name: str
    success: bool
    tool_input: str | None = None
    tool_result: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class HookRecord:
    """One normalised, masked hook payload.

    ``key`` identifies the payload: a second record with the same key is a replay and changes nothing. The hook
    is also kept as a session event (``event_name``, ``event_body``, ``event_attributes``: no tool content)."""

    key: str
    session_id: str
    time_ns: int
    hook_event_name: str
    event_name: str
    workspace: str | None = None
    transcript_path: str | None = None
    model: str | None = None
    starts_session: bool = False
    start_source: str | None = None
    ends_session: bool = False
    end_reason: str | None = None
    links: HookLinks = field(default_factory=HookLinks)
    tool_start: ToolStart | None = None
    tool_end: ToolEnd | None = None
    event_body: str | None = None
    event_attributes: dict[str, Any] = field(default_factory=dict)
    redactions: dict[str, int] = field(default_factory=dict)

    def stored_attributes(self, tool_use_id: str | None) -> str:
        """The attributes its session event is stored with (JSON text): the hook's, plus the tool call it touched."""
        attributes = dict(self.event_attributes)
        if tool_use_id is not None:
            attributes["tool_use_id"] = tool_use_id
        return compact_json(attributes)


@dataclass(frozen=True, slots=True)
class HookOutcome:
    replayed: bool
    tool_use_id: str | None = None  # the tool call the hook started or finished
    spans_updated: int = 0  # spans of the session given the workspace or the links


@dataclass(frozen=True, slots=True)
class HookSession:
    """What hooks record of a session beyond the telemetry columns."""

    session_id: str
    first_seen_ns: int
    last_seen_ns: int
    workspace: str | None
    transcript_path: str | None
    start_source: str | None
    ended_ns: int | None
    end_reason: str | None
    links: HookLinks
