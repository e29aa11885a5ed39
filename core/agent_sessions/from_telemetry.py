"""Agent-session rows (sessions, messages, tool calls) from one normalised OTLP batch of Claude Code / Gemini CLI.

What becomes what:
- session: every SessionRecord of the batch. `agent_type` from the source type (claude_code -> "claude-code",
  gemini_cli -> "gemini-cli"), `project_path` = the resource's working directory (`process.cwd`) and
  `project_name` its base name, `user_id` = the user's e-mail when the producer sent one (the seed's identity),
  else its user id; `started_at` / `ended_at` = first / last seen; `total_output_tokens` (output + reasoning,
  as Anthropic counts output) and `peak_context_tokens` (input + cache read + cache creation) from the
  batch's LLM calls; `first_message`, `message_count`, `user_message_count` from the batch's messages.
- user message: each `claude_code.user_prompt` / `gemini_cli.user_prompt` event. Its content is the `prompt`
  attribute when the producer logs prompts (OTEL_LOG_USER_PROMPTS, Gemini's logPrompts), else empty: the
  turn still counts.
- assistant message: each `claude_code.assistant_response` event (its `response` when logged, else empty, as
  for prompts; `model`); elsewhere only where the response text is logged: Gemini CLI's `gemini_cli.api_response`
  (`response_text`: the response chunks as JSON, or plain text from older versions), and the GenAI semconv
  event `gen_ai.client.inference.operation.details` (`gen_ai.output.messages`) of other producers (Gemini
  CLI sends that event for every response too, so from it only the api_response is read). Claude Code logs
  no response text. Tokens: output (+ thoughts) and context (Gemini's input count includes the cache).
- tool call: the batch's ToolCallRecords merged by tool_use_id (a decision event, a result event and a span
  may each report part of one call), with input, result (or the error when there is no result) and success.
  A call known only by a decision (no time) is left for the record that completes it.

Keys, so that a replayed batch makes the same rows: a message's `uuid` is the event's `message.uuid` (Claude
Code sends it with prompts and responses: the uuid its transcript gives the message, so an OTLP message and the
imported transcript's are one row), else "evt:<event key>" (the event's hash, stable under replay). Its
ordinal must order a session's messages by time and fit UInt32: it is the event's Unix time in whole seconds
(valid until 2106); messages of the same second are told apart by their key and ordered by `timestamp`
(milliseconds). A tool call's
`message_ordinal` is likewise the second it completed (an event's time, or a span's end).

Content is masked (`core.redact`) here too, for texts decoded from JSON values (ingest masks the attributes as
stored: core/normalise/content.py).
Counters are those of this batch: a session spread over several batches needs the stored rows merged
(`merge_session` does the parts that are safe to merge) and its counts recomputed from the stored messages.

OTLP ids are unbounded; the agent-session rows take ids of at most MAX_ID_LENGTH characters (the sync API's
limit). A session or tool call with a longer id gets no agent-session row (counted in `SessionRows.skipped`), so
one such record never fails the export of its batch: its telemetry history is exported all the same.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from core.agent_sessions.models import MAX_ID_LENGTH, AgentMessage, AgentSession, AgentToolCall
from core.agent_sessions.transcripts import tool_category
from core.records import Batch, EventRecord, LlmCallRecord, SessionRecord, ToolCallRecord
from core.redact import mask_secrets

__all__ = ["SessionRows", "merge_session", "message_ordinal", "sessions_from_batch"]

_MAX_ORDINAL = 2**32 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_AGENT_TYPES = {"claude_code": "claude-code", "gemini_cli": "gemini-cli", "other": ""}
_USER_PROMPTS = frozenset({"claude_code.user_prompt", "gemini_cli.user_prompt"})
_CLAUDE_RESPONSE = "claude_code.assistant_response"
_GEMINI_RESPONSE = "gemini_cli.api_response"
_SEMCONV_DETAILS = "gen_ai.client.inference.operation.details"
_NOT_LOGGED = frozenset({"", "<REDACTED>", "<redacted>"})
_GEMINI_USAGE_KEYS = ("input_token_count", "output_token_count", "cached_content_token_count",
                      "thoughts_token_count", "tool_token_count", "total_token_count")


@dataclass(slots=True)
class SessionRows:
    """The rows one batch contributes (plain lists: a batch may exceed a sync request's limits)."""

    sessions: list[AgentSession] = field(default_factory=list)
    messages: list[AgentMessage] = field(default_factory=list)
    tool_calls: list[AgentToolCall] = field(default_factory=list)
    skipped: int = 0  # records whose session or tool-call id is longer than MAX_ID_LENGTH


def message_ordinal(time_ns: int) -> int:
    """The ordinal of a message or tool call seen at `time_ns`: Unix seconds, clamped to UInt32."""
    return min(max(time_ns // 1_000_000_000, 0), _MAX_ORDINAL)


def sessions_from_batch(batch: Batch) -> SessionRows:
    rows = SessionRows()
    for event in sorted(batch.events, key=lambda e: (e.time_ns, e.event_key)):
        if event.session_id:
            if len(event.session_id) > MAX_ID_LENGTH:
                rows.skipped += 1
                continue
            message = _message_of(event)
            if message is not None:
                rows.messages.append(message)
    tools = [t for t in batch.tool_calls if len(t.tool_use_id) <= MAX_ID_LENGTH
             and (t.session_id is None or len(t.session_id) <= MAX_ID_LENGTH)]
    rows.skipped += len(batch.tool_calls) - len(tools)
    rows.tool_calls = _tool_calls(tools)
    calls: dict[str, list[LlmCallRecord]] = {}
    for call in batch.llm_calls:
        if call.session_id:
            calls.setdefault(call.session_id, []).append(call)
    messages: dict[str, list[AgentMessage]] = {}
    for message in rows.messages:
        messages.setdefault(message.session_id, []).append(message)
    for session_id, seen in batch.sessions.items():
        if len(session_id) > MAX_ID_LENGTH:
            rows.skipped += 1
            continue
        rows.sessions.append(_session(session_id, seen, messages.get(session_id, []), calls.get(session_id, [])))
    return rows


def merge_session(stored: AgentSession | None, seen: AgentSession) -> AgentSession:
    """A stored session row updated with what a later batch saw, safe to repeat (a replay changes nothing).

    Times widen, identity fields keep the stored value unless it is empty, the peak context is the maximum.
    The counters (messages, user messages, output tokens) take the larger value: exact only when one batch
    saw the whole session; otherwise recompute them from the stored rows.
    """
    if stored is None:
        return seen
    merged: dict[str, Any] = {}
    for name, value in stored.model_dump().items():
        new = getattr(seen, name)
        if name == "started_at":
            merged[name] = min((t for t in (value, new) if t is not None), default=None)
        elif name == "ended_at":
            merged[name] = max((t for t in (value, new) if t is not None), default=None)
        elif isinstance(value, int) and not isinstance(value, bool):
            merged[name] = max(value, new)
        else:
            merged[name] = value if value else new
    return AgentSession(**merged)


def _session(session_id: str, seen: SessionRecord, messages: list[AgentMessage],
             calls: list[LlmCallRecord]) -> AgentSession:
    users = [m for m in messages if m.role == "user"]
    first = next((m.content for m in users if m.content), "")
    workspace = seen.workspace or ""
    return AgentSession(
        id=session_id,
        user_id=seen.user_email or seen.user_id or "",
        project_name=os.path.basename(workspace.rstrip("/\\")),
        project_path=workspace,
        agent_type=_AGENT_TYPES.get(seen.source_type, seen.source_type.replace("_", "-")),
        first_message=" ".join(first.split())[:300],
        started_at=_time(seen.first_seen_ns) if seen.first_seen_ns else None,
        ended_at=_time(seen.last_seen_ns) if seen.last_seen_ns else None,
        message_count=len(messages),
        user_message_count=len(users),
        total_output_tokens=sum(c.usage.tokens_out + c.usage.reasoning_tokens for c in calls),
        peak_context_tokens=max((c.usage.tokens_in + c.usage.cache_read_tokens + c.usage.cache_creation_tokens
                                 for c in calls), default=0),
    )


def _message_of(event: EventRecord) -> AgentMessage | None:
    session_id = event.session_id or ""
    if event.name in _USER_PROMPTS:
        attrs = _attributes(event)
        prompt = attrs.get("prompt")
        text = prompt if isinstance(prompt, str) and prompt not in _NOT_LOGGED else ""
        return _message(event, session_id, "user", text, uuid=_text(attrs.get("message.uuid")))
    if event.name == _CLAUDE_RESPONSE:
        attrs = _attributes(event)
        response = attrs.get("response")
        text = response if isinstance(response, str) and response not in _NOT_LOGGED else ""
        return _message(event, session_id, "assistant", text, uuid=_text(attrs.get("message.uuid")),
                        model=_text(attrs.get("model")))
    if event.name == _GEMINI_RESPONSE:
        attrs = _attributes(event)
        response = attrs.get("response_text")
        if not isinstance(response, str) or not response:
            return None
        content, thinking, tool_use = _gemini_response(response)
        usage = {k: attrs[k] for k in _GEMINI_USAGE_KEYS if k in attrs}
        return _message(event, session_id, "assistant", content, thinking, tool_use, model=_text(attrs.get("model")),
                        token_usage=json.dumps(usage, separators=(",", ":")) if usage else "",
                        context_tokens=_count(attrs.get("input_token_count")),
                        output_tokens=_count(attrs.get("output_token_count"))
                        + _count(attrs.get("thoughts_token_count")))
    if event.dialect == "otel" and event.name == _SEMCONV_DETAILS:
        attrs = _attributes(event)
        output = attrs.get("gen_ai.output.messages")
        if output is None:
            return None
        content, thinking, tool_use = _semconv_output(output)
        usage = {k: attrs[k] for k in ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens") if k in attrs}
        return _message(event, session_id, "assistant", content, thinking, tool_use,
                        model=_text(attrs.get("gen_ai.response.model") or attrs.get("gen_ai.request.model")),
                        token_usage=json.dumps(usage, separators=(",", ":")) if usage else "",
                        context_tokens=_count(attrs.get("gen_ai.usage.input_tokens")),
                        output_tokens=_count(attrs.get("gen_ai.usage.output_tokens")))
    return None


def _message(event: EventRecord, session_id: str, role: str, content: str, has_thinking: bool = False,
             has_tool_use: bool = False, uuid: str = "", **usage: Any) -> AgentMessage:
    return AgentMessage(session_id=session_id, ordinal=message_ordinal(event.time_ns),
                        uuid=uuid or f"evt:{event.event_key}",
                        role=role, content=_mask(content), timestamp=_time(event.time_ns), has_thinking=has_thinking,
                        has_tool_use=has_tool_use, **usage)


def _gemini_response(text: str) -> tuple[str, bool, bool]:
    """(text, has thinking, has tool use) of a Gemini `response_text`: JSON response chunks, or plain text."""
    try:
        value = json.loads(text)
    except ValueError:
        return text, False, False
    chunks = value if isinstance(value, list) else [value]
    if not all(isinstance(c, dict) and "candidates" in c for c in chunks):
        return text, False, False
    answer: list[str] = []
    thoughts: list[str] = []
    tools: list[str] = []
    for chunk in chunks:
        for candidate in chunk.get("candidates") or []:
            content = candidate.get("content") if isinstance(candidate, dict) else None
            parts = content.get("parts") if isinstance(content, dict) else None
            for part in parts if isinstance(parts, list) else []:
                if not isinstance(part, dict):
                    continue
                if isinstance(part.get("functionCall"), dict):
                    tools.append(f"[{_text(part['functionCall'].get('name')) or 'tool'}]")
                elif isinstance(part.get("text"), str):
                    # Stream chunks split one answer anywhere: their texts join without a separator.
                    (thoughts if part.get("thought") else answer).append(part["text"])
    return _compose("".join(answer), "".join(thoughts), tools), bool(thoughts), bool(tools)


def _semconv_output(value: Any) -> tuple[str, bool, bool]:
    """(text, has thinking, has tool use) of GenAI semconv `gen_ai.output.messages` (a JSON string or list)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value, False, False
    answer: list[str] = []
    thoughts: list[str] = []
    tools: list[str] = []
    for message in value if isinstance(value, list) else []:
        parts = message.get("parts") if isinstance(message, dict) else None
        for part in parts if isinstance(parts, list) else []:
            if not isinstance(part, dict):
                continue
            kind = part.get("type")
            if kind == "text":
                answer.append(_text(part.get("content")))
            elif kind == "reasoning":
                thoughts.append(_text(part.get("content")))
            elif kind == "tool_call":
                tools.append(f"[{_text(part.get('name')) or 'tool'}]")
    return _compose("\n".join(answer), "\n".join(thoughts), tools), bool(thoughts), bool(tools)


def _compose(answer: str, thoughts: str, tools: list[str]) -> str:
    pieces = (["[Thinking]\n" + thoughts] if thoughts else []) + ([answer] if answer else []) + tools
    return "\n".join(pieces)


@dataclass(slots=True)
class _Tool:
    session_id: str
    tool_use_id: str
    name: str = ""
    input: str = ""
    result: str | None = None
    error: str | None = None
    success: bool | None = None
    event_end_ns: int | None = None
    span_end_ns: int | None = None


def _tool_calls(records: Iterable[ToolCallRecord]) -> list[AgentToolCall]:
    merged: dict[tuple[str, str], _Tool] = {}
    for rec in records:
        if not rec.session_id:
            continue
        tool = merged.setdefault((rec.session_id, rec.tool_use_id), _Tool(rec.session_id, rec.tool_use_id))
        from_span = rec.span_id is not None
        tool.name = tool.name or rec.tool_name or ""
        tool.input = tool.input or rec.tool_input or ""
        tool.result = tool.result if tool.result is not None else rec.tool_result
        tool.error = tool.error or rec.error
        # An event reports the outcome as the agent saw it: it wins over a span's status.
        if rec.success is not None and (tool.success is None or not from_span):
            tool.success = rec.success
        if rec.time_ns is not None:
            if from_span:
                end = rec.time_ns + int((rec.duration_ms or 0.0) * 1_000_000)
                tool.span_end_ns = end if tool.span_end_ns is None else max(tool.span_end_ns, end)
            else:
                tool.event_end_ns = rec.time_ns if tool.event_end_ns is None else max(tool.event_end_ns, rec.time_ns)
    calls: list[AgentToolCall] = []
    for tool in merged.values():
        end_ns = tool.event_end_ns if tool.event_end_ns is not None else tool.span_end_ns
        if end_ns is None:
            continue
        result = tool.result if tool.result is not None else tool.error
        calls.append(AgentToolCall(
            session_id=tool.session_id, message_ordinal=message_ordinal(end_ns), tool_use_id=tool.tool_use_id,
            tool_name=tool.name, tool_category=tool_category(tool.name), input_json=_mask(tool.input),
            result_content=None if result is None else _mask(result), success=tool.success,
            skill_name=_skill(tool.name, tool.input)))
    return calls


def _skill(name: str, tool_input: str) -> str:
    if name != "Skill" or not tool_input:
        return ""
    try:
        value = json.loads(tool_input)
    except ValueError:
        return ""
    return _text(value.get("skill") or value.get("command")) if isinstance(value, dict) else ""


def _attributes(event: EventRecord) -> dict[str, Any]:
    try:
        value = json.loads(event.attributes_json)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _time(time_ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=time_ns // 1000)


def _mask(text: str) -> str:
    return mask_secrets(text)[0] if text else text


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _count(value: Any) -> int:
    if isinstance(value, bool) or value is None:
        return 0
    try:
        return max(int(float(value)), 0)
    except (TypeError, ValueError):
        return 0
