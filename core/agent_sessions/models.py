"""Pydantic models of the agent-session wire format (`POST /api/v1/sync`) and of what the store keeps.

Field names are the seed's (agentlore's ClickHouse columns). Times are timezone-aware datetimes (a naive time
is UTC). A message is identified by `uuid` when the source has one (Claude Code transcripts do), else by
(session_id, ordinal): DESIGN §3, so a transcript synced twice, or synced and also seen over OTLP, is one row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

_U32 = 2**32 - 1  # counts are UInt32 columns
_I64 = 2**63 - 1  # token counts: 64-bit columns
MAX_SYNC_ITEMS = 20_000  # per list in one sync request; a client splits larger uploads
MAX_ID_LENGTH = 256  # session and tool-call ids
_SYNC_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_SYNC_LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


Time = Annotated[datetime, AfterValidator(_aware)]  # a naive time is UTC


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class AgentSession(_Model):
    """One conversation; re-sending it replaces the stored row (newest version wins)."""

    id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    user_id: str = ""
    user_name: str = ""
    project_id: str = ""
    project_name: str = ""
    project_path: str = ""
    agent_type: str = ""  # "claude-code", "gemini-cli", ...
    first_message: str = ""
    started_at: Time | None = None
    ended_at: Time | None = None
    message_count: int = Field(0, ge=0, le=_U32)
    user_message_count: int = Field(0, ge=0, le=_U32)
    parent_session_id: str = ""  # a subagent's parent; such sessions are not "browsable"
    relationship_type: str = ""
    machine: str = ""
    source_created_at: str = ""
    display_name: str = ""
    total_output_tokens: int = Field(0, ge=0, le=_I64)
    peak_context_tokens: int = Field(0, ge=0, le=_I64)


class AgentMessage(_Model):
    session_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    ordinal: int = Field(ge=0, le=2**32 - 1)
    uuid: str = ""
    role: str = ""  # "user", "assistant", "system"
    content: str = ""
    timestamp: Time | None = None
    has_thinking: bool = False
    has_tool_use: bool = False
    model: str = ""
    token_usage: str = ""  # the source's usage object as a JSON string
    context_tokens: int = Field(0, ge=0, le=_I64)
    output_tokens: int = Field(0, ge=0, le=_I64)

    @property
    def key(self) -> str:
        """The message's natural key within its session."""
        return self.uuid or f"ord:{self.ordinal}"


class AgentToolCall(_Model):
    session_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    message_ordinal: int = Field(ge=0, le=2**32 - 1)
    tool_use_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    tool_name: str = ""
    tool_category: str = ""
    input_json: str = ""
    skill_name: str = ""
    result_content: str | None = None
    subagent_session_id: str = ""
    success: bool | None = None  # None: not known (no result yet, or the source does not say)


class GitLink(_Model):
    """A commit or pull request a session produced, found in its Bash tool calls."""

    session_id: str
    user_id: str = ""
    message_ordinal: int = 0
    commit_sha: str = ""
    pr_url: str = ""
    link_type: Literal["commit", "pr"]
    confidence: Literal["high", "medium"]
    detected_at: Time | None = None


class SyncBatch(_Model):
    """The body of `POST /api/v1/sync`: any mix of sessions, messages and tool calls of one org."""

    sessions: list[AgentSession] = Field(default_factory=list, max_length=MAX_SYNC_ITEMS)
    messages: list[AgentMessage] = Field(default_factory=list, max_length=MAX_SYNC_ITEMS)
    tool_calls: list[AgentToolCall] = Field(default_factory=list, max_length=MAX_SYNC_ITEMS)

    @model_validator(mode="after")
    def _storable_times(self) -> SyncBatch:
        """A session is filed under the month it started in (a ClickHouse Date, 1970 to 2149): one from before 1970
        would be filed as expired and vanish after a 200. So this API takes times from 1970 up to 2100, the bound of
        the telemetry too (core/normalise/attributes.TIME_LIMIT_NS)."""
        times = [(f"sessions.{i}.{name}", getattr(s, name)) for i, s in enumerate(self.sessions)
                 for name in ("started_at", "ended_at")]
        times += [(f"messages.{i}.timestamp", m.timestamp) for i, m in enumerate(self.messages)]
        for where, value in times:
            if value is not None and not _SYNC_EARLIEST <= value < _SYNC_LATEST:
                raise ValueError(f"{where} must lie between 1970 and 2100")
        return self


class SyncResult(_Model):
    sessions: int
    messages: int
    tool_calls: int
    git_links: int
    masked: int  # secrets replaced by [REDACTED:<kind>] markers
