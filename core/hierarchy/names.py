"""Span-name rules shared by the views and the store: node types, tool names and display names (no pydantic)."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

NodeType = Literal["coordinator", "executor", "turn", "tool", "other"]

# Spans that start an exec / run / check of the seed's coordinator, and the command each stands for.
EXEC_COMMANDS: dict[str, str] = {
    "ailang.exec": "exec", "ailang.execute": "exec", "claude.execute": "exec", "observatory.execute": "exec",
    "coordinator.exec": "exec", "ailang.run": "run", "ailang.check": "check",
}
EXEC_SPAN_NAMES: tuple[str, ...] = tuple(EXEC_COMMANDS)

_TOOL_PREFIXES = ("claude_code.tool.", "gemini_cli.tool.", "gemini.tool.", "tool.")
_TOOL_INNER = ("claude_code.tool.blocked_on_user", "claude_code.tool.execution")
_TURN_NAMES = frozenset({"api_request", "claude_code.api_request", "claude_code.llm_request", "llm_request",
                         "gemini_cli.api_request", "gemini_cli.api_response"})
_COORDINATOR_PREFIXES = ("coordinator.", "observatory.coordinator", "ailang.coordinator")
_EXECUTOR_PREFIXES = ("invoke_agent", "executor.", "agent.", "ailang.exec", "ailang.run", "ailang.check")
# The argument that best says what a tool call did, by preference.
_KEY_ARGS = ("file_path", "notebook_path", "path", "command", "pattern", "url", "query", "description", "prompt",
             "subagent_type", "absolute_path", "dir_path")
_MAX_LABEL = 80
HEX_ID = re.compile(r"^[0-9a-fA-F]+$")


def path_span_id(span_id: str) -> str:
    """A span id from a URL path, in the form it is stored in (hex ids lowercase)."""
    return span_id.lower() if HEX_ID.match(span_id) else span_id


def is_tool_span(name: str) -> bool:
    """The seed's rule (`name LIKE '%tool.%'`) plus the bare names of Claude Code and GenAI tool spans."""
    return "tool." in name or name == "claude_code.tool" or name.startswith("execute_tool")


def tool_name_of_span(name: str) -> str | None:
    """``claude_code.tool.Read`` -> Read, ``execute_tool read_file`` -> read_file; None when the name says none."""
    if name in _TOOL_INNER:
        return None
    for prefix in _TOOL_PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix):
            return name[len(prefix):]
    if name.startswith("execute_tool "):
        return name[len("execute_tool "):].strip() or None
    return None


def node_type(name: str, model: str | None) -> NodeType:
    """coordinator / executor / turn (an LLM call) / tool / other, from the span name (and its model)."""
    low = name.lower()
    if low == "coordinator" or low.startswith(_COORDINATOR_PREFIXES):
        return "coordinator"
    if low in EXEC_COMMANDS or low.endswith(".execute") or low.startswith(_EXECUTOR_PREFIXES) \
            or low == "claude_code.interaction":
        return "executor"
    if is_tool_span(low):
        return "tool"
    if model or low in _TURN_NAMES or low.endswith((".api_request", ".llm_request")):
        return "turn"
    return "other"


def parse_json(text: str | None) -> Any:
    """The JSON value of a stored text, or the text itself when it is not JSON."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def display_name(tool_name: str | None, tool_input: str | None, fallback: str) -> str:
    """``Read: /path/file.go``: the tool and its key argument (cut to 80 characters); else ``fallback``."""
    if not tool_name:
        return fallback
    args = parse_json(tool_input)
    if isinstance(args, dict):
        for key in _KEY_ARGS:
            value = args.get(key)
            if isinstance(value, str) and value.strip():
                label = " ".join(value.split())
                if len(label) > _MAX_LABEL:
                    label = label[:_MAX_LABEL - 1] + "…"
                return f"{tool_name}: {label}"
    return tool_name


def dialect_of(source_type: str | None) -> str:
    """Name prefix of synthetic turn / tool spans of a session: claude_code, gemini_cli or llm."""
    return source_type if source_type in ("claude_code", "gemini_cli") else "llm"
