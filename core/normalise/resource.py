"""Per-resource context computed once per ResourceSpans/Logs/Metrics: identity, source type, workspace."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from core.normalise.attributes import attrs_dict, first, to_str
from core.records import Links, SessionRecord

# Source type of a trace or session (DESIGN §6), first match wins on service.name, then root span name.
_SOURCE_BY_SERVICE: tuple[tuple[str, str], ...] = (
    ("claude-code", "claude_code"),
    ("claude_code", "claude_code"),
    ("gemini-cli", "gemini_cli"),
    ("gemini_cli", "gemini_cli"),
    ("eval", "eval"),
    ("coordinator", "coordinator"),
)
_SOURCE_BY_SPAN_PREFIX: tuple[tuple[str, str], ...] = (
    ("claude_code.", "claude_code"),
    ("claude.", "claude_code"),
    ("gemini_cli.", "gemini_cli"),
    ("gemini.", "gemini_cli"),
    ("eval.", "eval"),
    ("coordinator.", "coordinator"),
)
_TASK_IN_PATH = re.compile(r"/worktrees/(task-[0-9a-f]{8})(?:/|$)")


def source_type_of(service_name: str | None, span_name: str | None = None) -> str:
    """claude-code -> claude_code, gemini-cli -> gemini_cli, eval harnesses -> eval, coordinators -> coordinator."""
    service = (service_name or "").lower()
    for needle, source in _SOURCE_BY_SERVICE:
        if needle in service:
            return source
    name = (span_name or "").lower()
    for prefix, source in _SOURCE_BY_SPAN_PREFIX:
        if name.startswith(prefix):
            return source
    return "other"


def task_id_in_path(path: Any) -> str | None:
    """The seed's worktree convention: ``.../worktrees/task-XXXXXXXX``."""
    if not isinstance(path, str):
        return None
    match = _TASK_IN_PATH.search(path)
    return match.group(1) if match else None


@dataclass(slots=True)
class ResourceContext:
    attrs: dict[str, Any]
    json: str
    digest: str
    service_name: str | None
    session_id: str | None
    workspace: str | None
    source_type: str
    links: Links
    cwd_task_id: str | None
    user_id: str | None
    user_email: str | None
    account_org: str | None
    app_version: str | None
    terminal_type: str | None


def resource_context(resource: Resource) -> ResourceContext:
    attrs = attrs_dict(resource.attributes)
    text = json.dumps(attrs, sort_keys=True, separators=(",", ":"), default=str)
    service = to_str(attrs.get("service.name"))
    cwd = to_str(attrs.get("process.cwd"))
    links = Links(
        task_id=to_str(first(attrs, ("ailang.task_id", "observatory.task_id"))),
        assignment_id=to_str(first(attrs, ("ailang.assignment_id", "observatory.assignment_id"))),
        chain_id=to_str(first(attrs, ("ailang.chain_id", "observatory.chain_id"))),
        stage_id=to_str(first(attrs, ("ailang.stage_id", "observatory.stage_id"))),
        message_id=to_str(first(attrs, ("ailang.message_id", "observatory.message_id"))),
    )
    return ResourceContext(
        attrs=attrs,
        json=text,
        digest=hashlib.sha1(text.encode()).hexdigest(),
        service_name=service,
        session_id=to_str(attrs.get("session.id")),
        workspace=cwd,
        source_type=source_type_of(service),
        links=links,
        cwd_task_id=task_id_in_path(cwd),
        user_id=to_str(first(attrs, ("user.id", "user.account_uuid", "installation.id"))),
        user_email=to_str(attrs.get("user.email")),
        account_org=to_str(attrs.get("organization.id")),
        app_version=to_str(first(attrs, ("app.version", "service.version"))),
        terminal_type=to_str(attrs.get("terminal.type")),
    )


def fill_session(seen: SessionRecord, ctx: ResourceContext, attrs: dict[str, Any]) -> None:
    """Session identity from record attributes (Claude Code puts them there) or else the resource."""
    if seen.service_name is not None or seen.user_id is not None:
        return
    seen.service_name = ctx.service_name
    seen.source_type = ctx.source_type
    seen.workspace = ctx.workspace
    seen.user_id = to_str(first(attrs, ("user.id", "user.account_uuid", "installation.id"))) or ctx.user_id
    seen.user_email = to_str(attrs.get("user.email")) or ctx.user_email
    seen.account_org = to_str(attrs.get("organization.id")) or ctx.account_org
    seen.app_version = to_str(attrs.get("app.version")) or ctx.app_version
    seen.terminal_type = to_str(attrs.get("terminal.type")) or ctx.terminal_type
