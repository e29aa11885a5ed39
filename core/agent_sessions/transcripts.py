"""Parses one Claude Code transcript (a `~/.claude/projects/<project>/<session>.jsonl` file) into agent-session rows.

Each line is one JSON object: `user` / `assistant` / `system` lines are messages, `summary` lines name the
session, other types (`file-history-snapshot`, ...) are skipped. Rules:

- Ordinal = the line's 0-based index in the file. Lines are only ever appended, so an ordinal never changes
  (skipped and malformed lines leave gaps, which readers ordering by ordinal don't mind), and the watermark of
  an incremental import is simply the last line read (`ParsedTranscript.last_ordinal`).
- Session id = the file name without `.jsonl` (Claude Code names the file after its session). A subagent's
  transcript (`agent-<id>.jsonl`) is its own session, its lines' `sessionId` is the parent
  (`parent_session_id`, `relationship_type` "subagent"), and the parent's Task tool call points at it
  (`subagent_session_id`) when the tool result names the agent (`toolUseResult.agentId`). Subagent lines inline
  in a main transcript (`isSidechain`) stay messages of that session but are not the user's prompts.
- A user line whose content is only `tool_result` blocks is no message: each result fills the
  `result_content` (text blocks joined; an image is "[image]") of the tool call with that `tool_use_id`, made
  from an earlier assistant `tool_use` block (key: its id; `message_ordinal`: the assistant line's ordinal).
  `isMeta` lines and compaction summaries are no messages either.
- `user_message_count` counts the user's prompts: user text that is neither a subagent's nor injected by
  Claude Code (slash-command echoes, interruptions, hook feedback...). `first_message` is the first of them,
  on one line, at most 300 characters.
- One API response is written as several assistant lines (one per content block) that repeat its usage: the
  usage counts once, on the first line of the response (by `message.id`), with the largest output count any
  of its lines reports; `context_tokens` = input + cache read + cache creation; the session sums output tokens
  and keeps the peak context.
- `display_name` = the last `summary` line whose `leafUuid` is a line of this file (Claude Code also copies the
  summaries of other sessions into a transcript). `project_path` = the first `cwd`; `project_id` and
  `project_name` come from the caller's project resolver (the importer asks git), else the cwd's base name.
- Incremental parse (`since_ordinal`): only messages, and tool calls, of lines after `since_ordinal` are
  returned, plus every earlier tool call whose result arrived after it: re-sent whole under its original
  (message ordinal, tool_use_id) key, it replaces the stored row. The session row is always returned, computed
  from the whole file.
- A line that is not a JSON object, or is not UTF-8, is skipped and counted; unknown block types are ignored.
  A last line without its newline that doesn't parse is being written: it is neither counted nor read (the
  next import reads it once complete).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from core.agent_sessions.models import AgentMessage, AgentSession, AgentToolCall

__all__ = ["AGENT_TYPE", "Identity", "ParsedTranscript", "Project", "ProjectResolver", "parse_transcript",
           "parse_transcript_bytes", "tool_category"]

AGENT_TYPE = "claude-code"
FIRST_MESSAGE_CHARS = 300
_SUBAGENT_PREFIX = "agent-"
# User text Claude Code writes itself, not the user's prompt.
_INJECTED_PREFIXES = ("<command-name>", "<command-message>", "<command-args>", "<local-command-",
                      "[Request interrupted", "<task-notification>", "This session is being continued",
                      "Stop hook feedback:", "Caveat: The messages below", "<user-memory-input>",
                      "<bash-input>", "<bash-stdout>", "<bash-stderr>")
_CATEGORIES = {
    "Read": "Read", "NotebookRead": "Read", "read_file": "Read", "read_many_files": "Read",
    "Edit": "Edit", "MultiEdit": "Edit", "replace": "Edit", "edit": "Edit",
    "Write": "Write", "NotebookEdit": "Write", "write_file": "Write",
    "Bash": "Bash", "BashOutput": "Bash", "KillShell": "Bash", "run_shell_command": "Bash",
    "Grep": "Grep", "search_file_content": "Grep", "grep": "Grep",
    "Glob": "Glob", "glob": "Glob", "LS": "Glob", "list_directory": "Glob",
    "Task": "Task", "Agent": "Task",
    "Skill": "Tool",
}


def tool_category(tool_name: str) -> str:
    """The seed's tool categories: Read, Edit, Write, Bash, Grep, Glob, Task, Tool (skills, MCP), Other."""
    category = _CATEGORIES.get(tool_name)
    if category:
        return category
    return "Tool" if tool_name.startswith("mcp__") else "Other"


@dataclass(frozen=True, slots=True)
class Identity:
    """Who synced the transcript (the seed: `git config user.email` / `user.name`) and from which machine."""

    user_id: str = ""
    user_name: str = ""
    machine: str = ""


@dataclass(frozen=True, slots=True)
class Project:
    """A working directory's project: id = its git remote URL, name = the remote's last component."""

    id: str = ""
    name: str = ""


ProjectResolver = Callable[[str], Project]


@dataclass(slots=True)
class ParsedTranscript:
    session: AgentSession | None  # None when the file holds no message at all
    messages: list[AgentMessage]
    tool_calls: list[AgentToolCall]
    last_ordinal: int  # the last complete line read (-1: none); the next incremental parse starts after it
    malformed_lines: int = 0
    incomplete_tail: bool = False  # the last line is still being written


@dataclass(slots=True)
class _Message:
    ordinal: int
    uuid: str
    role: str
    content: str
    timestamp: datetime | None
    has_thinking: bool = False
    has_tool_use: bool = False
    model: str = ""
    token_usage: str = ""
    context_tokens: int = 0
    output_tokens: int = 0


@dataclass(slots=True)
class _Tool:
    ordinal: int
    tool_use_id: str
    tool_name: str
    input_json: str
    skill_name: str
    result: str | None = None
    success: bool | None = None
    result_ordinal: int = -1
    subagent_session_id: str = ""


@dataclass(slots=True)
class _State:
    session_id: str
    subagent_file: bool
    messages: list[_Message] = field(default_factory=list)
    tools: dict[str, _Tool] = field(default_factory=dict)
    orphan_results: dict[str, tuple[str, bool | None, int, str]] = field(default_factory=dict)
    usage_owner: dict[str, _Message] = field(default_factory=dict)  # API message id -> line carrying its usage
    first_message: str = ""
    user_messages: int = 0
    started_at: datetime | None = None
    ended_at: datetime | None = None
    cwd: str = ""
    line_session_id: str = ""
    summaries: list[tuple[str, str]] = field(default_factory=list)  # (summary, leafUuid)
    uuids: set[str] = field(default_factory=set)  # of every user/assistant/system line
    malformed: int = 0


def parse_transcript(path: str | os.PathLike[str], since_ordinal: int = -1, identity: Identity | None = None,
                     project_of: ProjectResolver | None = None) -> ParsedTranscript:
    """Parse the transcript at `path`; see the module rules. `project_of` maps a cwd to its project."""
    return parse_transcript_bytes(Path(path).read_bytes(), path, since_ordinal, identity, project_of)


def parse_transcript_bytes(data: bytes, path: str | os.PathLike[str], since_ordinal: int = -1,
                           identity: Identity | None = None,
                           project_of: ProjectResolver | None = None) -> ParsedTranscript:
    """`parse_transcript` of content already read (the importer hashes and parses one read of the file)."""
    stem = Path(path).name.removesuffix(".jsonl")
    state = _State(session_id=stem, subagent_file=stem.startswith(_SUBAGENT_PREFIX))
    lines = data.split(b"\n")
    tail = lines.pop()  # "" when the data ends with a newline
    last_ordinal = len(lines) - 1
    incomplete = False
    for ordinal, raw in enumerate(lines):
        _read_line(state, ordinal, raw)
    if tail.strip():
        try:
            obj = orjson.loads(tail)
        except orjson.JSONDecodeError:
            incomplete = True
        else:
            last_ordinal = len(lines)
            _read_object(state, last_ordinal, obj)
    return _result(state, since_ordinal, last_ordinal, incomplete, identity or Identity(), project_of)


def _read_line(state: _State, ordinal: int, raw: bytes) -> None:
    if not raw.strip():
        return
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:  # also raised for invalid UTF-8
        state.malformed += 1
        return
    _read_object(state, ordinal, obj)


def _read_object(state: _State, ordinal: int, obj: Any) -> None:
    if not isinstance(obj, dict):
        state.malformed += 1
        return
    try:
        _read_entry(state, ordinal, obj)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError):
        state.malformed += 1


def _read_entry(state: _State, ordinal: int, obj: dict[str, Any]) -> None:
    kind = obj.get("type")
    if kind == "summary":
        summary = obj.get("summary")
        if isinstance(summary, str) and summary:
            state.summaries.append((summary, _str(obj.get("leafUuid"))))
        return
    if kind not in ("user", "assistant", "system"):
        return
    timestamp = _time(obj.get("timestamp"))
    if timestamp is not None:
        state.started_at = timestamp if state.started_at is None else min(state.started_at, timestamp)
        state.ended_at = timestamp if state.ended_at is None else max(state.ended_at, timestamp)
    if not state.cwd:
        state.cwd = _str(obj.get("cwd"))
    if not state.line_session_id and kind != "system":
        state.line_session_id = _str(obj.get("sessionId"))
    uuid = _str(obj.get("uuid"))
    if uuid:
        state.uuids.add(uuid)
    if kind == "system":
        content = obj.get("content")
        if isinstance(content, str) and content.strip():
            state.messages.append(_Message(ordinal, uuid, "system", content, timestamp))
        return
    message = obj.get("message")
    if not isinstance(message, dict):
        return
    if kind == "user":
        _read_user(state, ordinal, obj, message, uuid, timestamp)
    else:
        _read_assistant(state, ordinal, message, uuid, timestamp)


def _read_user(state: _State, ordinal: int, obj: dict[str, Any], message: dict[str, Any], uuid: str,
               timestamp: datetime | None) -> None:
    if obj.get("isMeta") or obj.get("isCompactSummary"):
        return
    content = message.get("content")
    parts: list[str] = []
    results: list[tuple[str, str, bool]] = []
    if isinstance(content, str):
        parts.append(content)
    elif isinstance(content, list):
        for block in content:
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind == "text":
                parts.append(_str(block.get("text")))
            elif kind == "image":
                parts.append("[image]")
            elif kind == "tool_result":
                tool_id = _str(block.get("tool_use_id"))
                if tool_id:
                    # A result without is_error is a success: Claude Code writes the flag for errors.
                    results.append((tool_id, _result_text(block.get("content")), block.get("is_error") is not True))
    agent = _subagent_of(obj.get("toolUseResult")) if len(results) == 1 else ""
    for tool_id, text, success in results:
        tool = state.tools.get(tool_id)
        if tool is None:  # a result before its tool use: kept until the use shows up
            state.orphan_results[tool_id] = (text, success, ordinal, agent)
            continue
        tool.result, tool.success, tool.result_ordinal = text, success, ordinal
        if agent:
            tool.subagent_session_id = agent
    text = "\n".join(p for p in parts if p)
    if not text.strip():
        return
    state.messages.append(_Message(ordinal, uuid, "user", text, timestamp))
    if (obj.get("isSidechain") and not state.subagent_file) or text.lstrip().startswith(_INJECTED_PREFIXES):
        return
    state.user_messages += 1
    if not state.first_message:
        state.first_message = " ".join(text.split())[:FIRST_MESSAGE_CHARS]


def _read_assistant(state: _State, ordinal: int, message: dict[str, Any], uuid: str,
                    timestamp: datetime | None) -> None:
    content = message.get("content")
    parts: list[str] = []
    msg = _Message(ordinal, uuid, "assistant", "", timestamp, model=_str(message.get("model")))
    if isinstance(content, str):
        parts.append(content)
    elif isinstance(content, list):
        for block in content:
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind == "text":
                parts.append(_str(block.get("text")))
            elif kind == "thinking":
                msg.has_thinking = True
                thinking = _str(block.get("thinking"))
                if thinking:
                    parts.append("[Thinking]\n" + thinking)
            elif kind == "redacted_thinking":
                msg.has_thinking = True
            elif kind == "tool_use":
                msg.has_tool_use = True
                parts.append(_add_tool(state, ordinal, block))
    msg.content = "\n".join(p for p in parts if p)
    if not (msg.content or msg.has_thinking or msg.has_tool_use):
        return
    usage = message.get("usage")
    if isinstance(usage, dict):
        _count_usage(state, msg, _str(message.get("id")), usage)
    state.messages.append(msg)


def _add_tool(state: _State, ordinal: int, block: dict[str, Any]) -> str:
    tool_id = _str(block.get("id"))
    name = _str(block.get("name"))
    raw_input = block.get("input")
    tool_input = raw_input if isinstance(raw_input, dict) else {}
    if tool_id:
        skill = ""
        if name == "Skill":
            skill = _str(tool_input.get("skill")) or _str(tool_input.get("command"))
        tool = _Tool(ordinal, tool_id, name, _json(raw_input) if raw_input is not None else "", skill)
        orphan = state.orphan_results.pop(tool_id, None)
        if orphan is not None:
            tool.result, tool.success, tool.result_ordinal, tool.subagent_session_id = orphan
        state.tools[tool_id] = tool
    return _tool_marker(name, tool_input)


def _tool_marker(name: str, tool_input: dict[str, Any]) -> str:
    """A one-line mention of the tool use in the message text (the call itself is a tool-call row)."""
    if name == "Bash":
        return f"[Bash] $ {_str(tool_input.get('command'))}"
    for key in ("file_path", "notebook_path", "pattern", "url", "query", "description"):
        value = tool_input.get(key)
        if isinstance(value, str) and value:
            return f"[{name}: {value}]"
    return f"[{name or 'tool'}]"


def _count_usage(state: _State, msg: _Message, api_message_id: str, usage: dict[str, Any]) -> None:
    output = _int(usage.get("output_tokens"))
    context = (_int(usage.get("input_tokens")) + _int(usage.get("cache_read_input_tokens"))
               + _int(usage.get("cache_creation_input_tokens")))
    owner = state.usage_owner.get(api_message_id) if api_message_id else None
    if owner is None:
        msg.output_tokens, msg.context_tokens, msg.token_usage = output, context, _json(usage)
        if api_message_id:
            state.usage_owner[api_message_id] = msg
        return
    if output > owner.output_tokens:
        owner.output_tokens, owner.token_usage = output, _json(usage)
    owner.context_tokens = max(owner.context_tokens, context)


def _result(state: _State, since: int, last_ordinal: int, incomplete: bool, identity: Identity,
            project_of: ProjectResolver | None) -> ParsedTranscript:
    sid = state.session_id
    messages = [AgentMessage(session_id=sid, ordinal=m.ordinal, uuid=m.uuid, role=m.role, content=m.content,
                             timestamp=m.timestamp, has_thinking=m.has_thinking, has_tool_use=m.has_tool_use,
                             model=m.model, token_usage=m.token_usage, context_tokens=m.context_tokens,
                             output_tokens=m.output_tokens)
                for m in state.messages if m.ordinal > since]
    tool_calls = [AgentToolCall(session_id=sid, message_ordinal=t.ordinal, tool_use_id=t.tool_use_id,
                                tool_name=t.tool_name, tool_category=tool_category(t.tool_name),
                                input_json=t.input_json, skill_name=t.skill_name, result_content=t.result,
                                success=t.success, subagent_session_id=t.subagent_session_id)
                  for t in state.tools.values() if t.ordinal > since or t.result_ordinal > since]
    if not state.messages:
        return ParsedTranscript(None, messages, tool_calls, last_ordinal, state.malformed, incomplete)
    project = project_of(state.cwd) if project_of is not None and state.cwd else Project()
    parent = state.line_session_id if state.line_session_id != sid else ""
    titles = [summary for summary, leaf in state.summaries if leaf in state.uuids]
    session = AgentSession(
        id=sid,
        user_id=identity.user_id,
        user_name=identity.user_name,
        project_id=project.id,
        project_name=project.name or os.path.basename(state.cwd.rstrip("/\\")),
        project_path=state.cwd,
        agent_type=AGENT_TYPE,
        first_message=state.first_message,
        started_at=state.started_at,
        ended_at=state.ended_at,
        message_count=len(state.messages),
        user_message_count=state.user_messages,
        parent_session_id=parent,
        relationship_type="subagent" if parent and state.subagent_file else "",
        machine=identity.machine,
        display_name=titles[-1] if titles else "",
        total_output_tokens=sum(m.output_tokens for m in state.messages),
        peak_context_tokens=max((m.context_tokens for m in state.messages), default=0),
    )
    return ParsedTranscript(session, messages, tool_calls, last_ordinal, state.malformed, incomplete)


def _subagent_of(tool_use_result: Any) -> str:
    if isinstance(tool_use_result, dict):
        agent = tool_use_result.get("agentId")
        if isinstance(agent, str) and agent:
            return _SUBAGENT_PREFIX + agent
    return ""


def _result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for block in content:
            if isinstance(block, dict):
                if block.get("type") == "text":
                    parts.append(_str(block.get("text")))
                elif block.get("type") == "image":
                    parts.append("[image]")
            elif isinstance(block, str):
                parts.append(block)
        return "\n".join(parts)
    return "" if content is None else _json(content)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, float):
        return max(int(value), 0)
    return 0


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
