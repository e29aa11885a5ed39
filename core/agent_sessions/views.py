"""Pydantic read models of the agent-session API (the seed's JSON names) and its query models (validated filters).

Query models take the query string as it comes (strings): a blank value is no filter; dates are `YYYY-MM-DD`;
`tz` is an IANA zone (default UTC) in which dates start at local midnight and analytics days and hours are
counted; `limit` is clamped as the seed does (sessions default 50, search default 50, both to 1..100).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from core.agent_sessions.cursor import decode_cursor
from core.agent_sessions.models import Time

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
MAX_QUERY_LENGTH = 1000
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MIN_YEAR, MAX_YEAR = 1970, 2200  # stored times are DateTime64(3): keep every bound well inside its range


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


# --- read models -------------------------------------------------------------------------------------------------


class Session(_View):
    org_id: str
    id: str
    user_id: str = ""
    user_name: str = ""
    project_id: str = ""
    project_name: str = ""
    project_path: str = ""
    machine: str = ""
    agent_type: str = ""
    first_message: str = ""
    started_at: datetime | None = None
    ended_at: datetime | None = None
    message_count: int = 0
    user_message_count: int = 0
    parent_session_id: str = ""
    relationship_type: str = ""
    source_created_at: str = ""
    display_name: str = ""
    total_output_tokens: int = 0
    peak_context_tokens: int = 0
    commit_count: int = Field(0, description="Commits linked to the session (git links of type commit)")


class SessionPage(_View):
    sessions: list[Session]
    next_cursor: str = Field("", description="Pass as `cursor` for the next page; empty on the last page")
    total: int = Field(description="Sessions matching the filters, all pages together")


class ToolCall(_View):
    org_id: str
    session_id: str
    message_ordinal: int
    tool_use_id: str
    tool_name: str = ""
    tool_category: str = ""
    input_json: str = ""
    skill_name: str = ""
    result_content: str = ""
    result_content_length: int | None = Field(None, description="Characters of the result; null when none came")
    subagent_session_id: str = ""


class Message(_View):
    session_id: str
    ordinal: int
    uuid: str = ""
    role: str = ""
    content: str = ""
    timestamp: datetime | None = None
    has_thinking: bool = False
    has_tool_use: bool = False
    content_length: int = Field(0, description="Characters of the content")
    model: str = ""
    token_usage: str = ""
    context_tokens: int = 0
    output_tokens: int = 0
    tool_calls: list[ToolCall] = Field(default_factory=list, description="The message's tool calls (never null)")


class SessionGitLink(_View):
    """A git link of one session (`/sessions/{id}/gitlinks`)."""

    org_id: str
    session_id: str
    user_id: str = ""
    message_ordinal: int = 0
    commit_sha: str = ""
    pr_url: str = ""
    link_type: str
    confidence: str
    detected_at: datetime | None = Field(
        None, description="When the link was found; the time of its latest write when the source gave none")


class GitLinkResult(_View):
    """A git link found by SHA prefix or PR URL, with its session's identity."""

    session_id: str
    user_id: str = ""
    user_name: str = ""
    project_id: str = ""
    project_name: str = ""
    agent_type: str = ""
    started_at: datetime | None = None
    first_message: str = ""
    commit_sha: str = ""
    pr_url: str = ""
    link_type: str
    confidence: str
    message_ordinal: int = 0


class UserInfo(_View):
    id: str
    name: str


class ProjectInfo(_View):
    id: str
    name: str
    path: str


class Highlight(_View):
    start: int = Field(description="Byte offset (UTF-8) in the snippet where a match starts")
    end: int = Field(description="Byte offset (UTF-8) in the snippet just after the match")


class SearchResult(_View):
    session_id: str
    ordinal: int
    role: str = Field(description="The message's role; 'tool' for a tool call; 'assistant' for a git-link hit")
    user_id: str = ""
    user_name: str = ""
    project_name: str = ""
    agent_type: str = ""
    started_at: datetime | None = None
    first_message: str = ""
    snippet: str
    highlights: list[Highlight] = Field(default_factory=list)


class SearchPage(_View):
    results: list[SearchResult]
    total: int


class UserUsage(_View):
    user_id: str
    user_name: str
    agent_type: str
    project_name: str
    session_count: int
    message_count: int
    commit_count: int
    total_output_tokens: int
    peak_context_tokens: int


class HeatmapCell(_View):
    day_of_week: int = Field(description="1 = Monday ... 7 = Sunday, in the request's zone")
    hour: int = Field(description="0..23 in the request's zone")
    session_count: int


class ToolUsageStat(_View):
    tool_name: str
    category: str
    usage_count: int


class DailyActivity(_View):
    date: str = Field(description="YYYY-MM-DD in the request's zone")
    session_count: int
    message_count: int
    total_output_tokens: int


class TokenUsageByModel(_View):
    model: str
    output_tokens: int
    context_tokens: int
    message_count: int


# --- marks: written by the sync cycle or the API, read per session (stars, pins) or per org (deletes) ---------------


class _Mark(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    session_id: str = Field(min_length=1, max_length=256)
    user_id: str = Field("", max_length=512)
    created_at: Time | None = Field(None, description="When it was set; the store's clock when not given")


class Star(_Mark):
    pass


class Pin(_Mark):
    message_ordinal: int = Field(ge=0, le=2**32 - 1)
    note: str = Field("", max_length=10_000)


class SessionDelete(_Mark):
    pass


# --- query models ------------------------------------------------------------------------------------------------


def _blank_is_none(value: Any) -> Any:
    """An empty query value (`?user_id=`) is no filter, as a dashboard's empty select sends it."""
    return None if isinstance(value, str) and not value.strip() else value


def _date(value: Any) -> Any:
    value = _blank_is_none(value)
    if isinstance(value, str):
        if not _DATE.fullmatch(value):
            raise ValueError("must be a date YYYY-MM-DD")
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise ValueError("must be a valid date YYYY-MM-DD") from None
    if isinstance(value, date) and not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"must be a date between {MIN_YEAR} and {MAX_YEAR}")
    return value


def _tz(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError("must be an IANA time zone such as Europe/Berlin") from None
    return value


def _limit(value: Any) -> Any:
    value = _blank_is_none(value)
    if value is None:
        return DEFAULT_LIMIT
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise ValueError("must be an integer") from None
    if isinstance(value, int) and not isinstance(value, bool):
        return min(max(value, 1), MAX_LIMIT)
    return value


def _cursor(value: str | None) -> str | None:
    if value is not None:
        decode_cursor(value)  # InvalidCursor is a ValueError: the request fails as a 400 naming `cursor`
    return value


_Text = Annotated[Annotated[str, Field(max_length=512)] | None, BeforeValidator(_blank_is_none)]
_Day = Annotated[date | None, BeforeValidator(_date)]
_Zone = Annotated[str, BeforeValidator(lambda v: _blank_is_none(v) or "UTC"), AfterValidator(_tz)]
_Limit = Annotated[int, BeforeValidator(_limit)]


class _Query(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _DateRange(_Query):
    date_from: _Day = Field(None, description="First day (YYYY-MM-DD, from local midnight in tz)")
    date_to: _Day = Field(None, description="Last day, included (YYYY-MM-DD)")
    tz: _Zone = Field("UTC", description="IANA time zone of the dates and of analytics days and hours")

    def window(self) -> tuple[datetime | None, datetime | None]:
        """[start, end) as UTC instants: local midnight of date_from, local midnight after date_to."""
        zone = ZoneInfo(self.tz)

        def midnight(day: date) -> datetime:
            return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)

        start = midnight(self.date_from) if self.date_from else None
        end = midnight(self.date_to + timedelta(days=1)) if self.date_to else None
        return start, end


class _SessionFacets(_DateRange):
    user_id: _Text = Field(None, description="Sessions of this user id (e-mail)")
    project_id: _Text = Field(None, description="Sessions of this project id (remote URL)")
    project_name: _Text = Field(None, description="Sessions of this project name")
    agent_type: _Text = Field(None, description="Sessions of this agent (claude-code, gemini-cli, ...)")


class SessionFilter(_SessionFacets):
    """`GET /sessions`: browsable sessions (no subagents unless asked, no empty ones), newest first."""

    cursor: Annotated[str | None, BeforeValidator(_blank_is_none), AfterValidator(_cursor)] = Field(
        None, description="The `next_cursor` of the previous page")
    limit: _Limit = Field(DEFAULT_LIMIT, description="Page size, 1..100 (default 50)")
    include_subagents: bool = Field(False, description="Also list subagent sessions")


class SearchQuery(_SessionFacets):
    """`GET /search`: case-insensitive substring search of messages and tool calls; a SHA or PR URL looks up git
    links first."""

    q: Annotated[str, Field(min_length=1, max_length=MAX_QUERY_LENGTH)] = Field(description="Text to find")
    limit: _Limit = Field(DEFAULT_LIMIT, description="Results, 1..100 (default 50)")


class AnalyticsFilter(_DateRange):
    """Analytics over browsable sessions started in the range, optionally of one project."""

    project_name: _Text = Field(None, description="Only this project")
