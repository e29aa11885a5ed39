"""The /api/v1 list responses as models (JSON arrays, as the seed answers), and the bodies of the mark writes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, RootModel

from core.agent_sessions.views import (
    DailyActivity,
    GitLinkResult,
    HeatmapCell,
    Message,
    Pin,
    ProjectInfo,
    SessionDelete,
    SessionGitLink,
    Star,
    TokenUsageByModel,
    ToolUsageStat,
    UserInfo,
    UserUsage,
)


class MessageList(RootModel[list[Message]]):
    pass


class SessionGitLinkList(RootModel[list[SessionGitLink]]):
    pass


class GitLinkResultList(RootModel[list[GitLinkResult]]):
    pass


class StarList(RootModel[list[Star]]):
    pass


class PinList(RootModel[list[Pin]]):
    pass


class SessionDeleteList(RootModel[list[SessionDelete]]):
    pass


class UserList(RootModel[list[UserInfo]]):
    pass


class ProjectList(RootModel[list[ProjectInfo]]):
    pass


class AgentList(RootModel[list[str]]):
    pass


class UserUsageList(RootModel[list[UserUsage]]):
    pass


class HeatmapCellList(RootModel[list[HeatmapCell]]):
    pass


class ToolUsageList(RootModel[list[ToolUsageStat]]):
    pass


class DailyActivityList(RootModel[list[DailyActivity]]):
    pass


class TokenUsageByModelList(RootModel[list[TokenUsageByModel]]):
    pass


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StarBody(_Body):
    user_id: str = Field(min_length=1, max_length=512)


class PinBody(_Body):
    user_id: str = Field(min_length=1, max_length=512)
    message_ordinal: int = Field(ge=0, le=2**32 - 1)
    note: str = Field("", max_length=10_000)


class SessionDeleteBody(_Body):
    session_id: str = Field(min_length=1, max_length=256)
    user_id: str = Field(min_length=1, max_length=512)


class UserParam(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    user_id: str = Field(min_length=1, max_length=512)


class PinParam(UserParam):
    message_ordinal: int = Field(ge=0, le=2**32 - 1)


class GitLinkQuery(BaseModel):
    """`sha` (a commit id or its prefix, 7..40 hex) or `pr` (a pull request URL): one is required."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    sha: str | None = Field(None, pattern=r"^[0-9a-fA-F]{4,40}$")
    pr: str | None = Field(None, min_length=1, max_length=2048)
