"""AgentSessionStore: the Analytics-side store of agent conversations (sessions, messages, tool calls, git links,
stars, pins, session deletes), their search and their analytics. Every method is scoped to one org."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.agent_sessions.models import AgentMessage, AgentSession, AgentToolCall, GitLink
    from core.agent_sessions.views import (
        AnalyticsFilter,
        DailyActivity,
        GitLinkResult,
        HeatmapCell,
        Message,
        Pin,
        ProjectInfo,
        SearchPage,
        SearchQuery,
        Session,
        SessionDelete,
        SessionFilter,
        SessionGitLink,
        SessionPage,
        Star,
        TokenUsageByModel,
        ToolUsageStat,
        UserInfo,
        UserUsage,
    )


class AgentSessionStore(ABC):
    """Writes follow the seed's sync semantics: a session row is replaced by a newer version; messages (keyed by
    `AgentMessage.key`), tool calls (by `tool_use_id`) and git links (by commit/PR) are upserted, so a client sends
    only the rows past its last ordinal, and a replayed batch changes nothing. Reads see the newest version of
    every row."""

    # --- writes ---------------------------------------------------------------------------------------------------

    @abstractmethod
    def write_batch(self, org_id: str, sessions: Sequence[AgentSession] = (), messages: Sequence[AgentMessage] = (),
                    tool_calls: Sequence[AgentToolCall] = (), git_links: Sequence[GitLink] = (), *,
                    version: int | None = None, batch_id: str | None = None) -> None:
        """Store one batch (one insert per table, however many rows). `version` (milliseconds, default now) orders
        rewrites of a row: pass the time the client produced the batch so a late redelivery never overwrites a newer
        write. `batch_id` (a digest of the request, or the bus message id) makes a redelivered batch a no-op at
        insert time; without it a replay is still harmless (same keys), only stored twice until merged.
        Raises core.errors.StorageUnavailable when the store cannot take it now."""

    def write_sessions(self, org_id: str, sessions: Sequence[AgentSession], *, version: int | None = None) -> None:
        self.write_batch(org_id, sessions=sessions, version=version)

    def write_messages(self, org_id: str, messages: Sequence[AgentMessage], *, version: int | None = None) -> None:
        self.write_batch(org_id, messages=messages, version=version)

    def write_tool_calls(self, org_id: str, tool_calls: Sequence[AgentToolCall], *,
                         version: int | None = None) -> None:
        self.write_batch(org_id, tool_calls=tool_calls, version=version)

    def write_git_links(self, org_id: str, links: Sequence[GitLink], *, version: int | None = None) -> None:
        self.write_batch(org_id, git_links=links, version=version)

    @abstractmethod
    def get_session_rows(self, org_id: str, session_ids: Sequence[str]) -> dict[str, AgentSession]:
        """The stored rows of those of these sessions the org has (one read for a batch's sessions)."""

    @abstractmethod
    def get_session_row(self, org_id: str, session_id: str) -> AgentSession:
        """The stored session row as written (the wire model), to merge a partial view of the session into it;
        core.errors.NotFound when the org has none."""

    @abstractmethod
    def recount_sessions(self, org_id: str, session_ids: Sequence[str]) -> None:
        """Recompute the counters of these sessions from their stored messages (for sessions assembled from
        partial batches): message and user-message counts; output tokens when the messages carry them; the peak
        context when a message's is higher. Writes a newer row only for a session whose counters change."""

    @abstractmethod
    def erase_session(self, org_id: str, session_id: str) -> None:
        """Delete every row of the session (its row, messages, tool calls, git links and marks): the analytics side
        of a session erasure (DELETE /api/observatory/sessions/{id})."""

    @abstractmethod
    def sessions_with_ordinals_below(self, org_id: str, session_ids: Sequence[str], bound: int) -> set[str]:
        """Those of these sessions with a stored message whose ordinal is below `bound`."""

    @abstractmethod
    def message_ordinals(self, org_id: str, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """The stored ordinal of each (session id, message uuid) of `keys` that the org has."""

    @abstractmethod
    def tool_call_ordinals(self, org_id: str, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """The stored message ordinal of each (session id, tool_use_id) of `keys` that the org has."""

    @abstractmethod
    def last_ordinal(self, org_id: str, session_id: str) -> int | None:
        """The highest message ordinal stored for the session (None when it has none): where an incremental sync
        resumes."""

    # --- marks ----------------------------------------------------------------------------------------------------

    @abstractmethod
    def set_star(self, org_id: str, star: Star, starred: bool = True) -> None:
        """Star (or, with `starred=False`, unstar) a session for `star.user_id`."""

    @abstractmethod
    def set_pin(self, org_id: str, pin: Pin, pinned: bool = True) -> None:
        """Pin (or unpin) a message of a session for `pin.user_id`; pinning again replaces the note."""

    @abstractmethod
    def set_session_delete(self, org_id: str, mark: SessionDelete, deleted: bool = True) -> None:
        """Record (or withdraw) a user's deletion of a session."""

    @abstractmethod
    def replace_marks(self, org_id: str, user_id: str, stars: Sequence[Star], pins: Sequence[Pin],
                      deletes: Sequence[SessionDelete]) -> None:
        """The sync cycle: the user's stars, pins and session deletes become exactly these (each item's
        `user_id` is taken to be `user_id`); any other mark of that user is withdrawn."""

    @abstractmethod
    def session_stars(self, org_id: str, session_id: str) -> list[Star]:
        """Stars of one session, oldest first."""

    @abstractmethod
    def session_pins(self, org_id: str, session_id: str) -> list[Pin]:
        """Pins of one session by message ordinal."""

    @abstractmethod
    def session_deletes(self, org_id: str) -> list[SessionDelete]:
        """Every session deletion recorded in the org, newest first."""

    # --- reads ----------------------------------------------------------------------------------------------------

    @abstractmethod
    def list_sessions(self, org_id: str, query: SessionFilter) -> SessionPage:
        """Browsable sessions (no subagents unless asked, at least one user message), newest first (started_at,
        then id, descending; sessions without a start time last), one page after `query.cursor`.
        Raises core.errors.InvalidCursor for a cursor that does not decode."""

    @abstractmethod
    def get_session(self, org_id: str, session_id: str) -> Session:
        """One session (browsable or not) with its commit count; core.errors.NotFound when the org has none."""

    @abstractmethod
    def session_messages(self, org_id: str, session_id: str) -> list[Message]:
        """Messages by ordinal, each with its tool calls (by tool-use id); empty for an unknown session."""

    @abstractmethod
    def session_git_links(self, org_id: str, session_id: str) -> list[SessionGitLink]:
        """Git links of one session by message ordinal."""

    @abstractmethod
    def lookup_git_links(self, org_id: str, sha: str | None = None, pr_url: str | None = None) -> list[GitLinkResult]:
        """Links whose commit SHA starts with `sha`, or whose PR URL is `pr_url`, newest first.
        Raises core.errors.BadParameter when neither is given."""

    @abstractmethod
    def users(self, org_id: str) -> list[UserInfo]:
        """Distinct (user id, name) of browsable sessions, by name."""

    @abstractmethod
    def projects(self, org_id: str) -> list[ProjectInfo]:
        """Distinct named projects of browsable sessions (one per id and name, any of its paths), by name."""

    @abstractmethod
    def agents(self, org_id: str) -> list[str]:
        """Distinct non-empty agent types of browsable sessions, sorted."""

    @abstractmethod
    def search(self, org_id: str, query: SearchQuery) -> SearchPage:
        """Case-insensitive substring search of message content, then of tool-call input and result, in browsable
        sessions matching the filters, newest session first; at most `query.limit` results with snippets. A query
        that is a commit SHA or a GitHub PR URL answers the git links it names when there are any."""

    # --- analytics (browsable sessions started in the filter's range, of its project) ----------------------------

    @abstractmethod
    def usage(self, org_id: str, query: AnalyticsFilter) -> list[UserUsage]:
        """Per (user, agent, project): sessions, messages, commits, output tokens, peak context; most sessions
        first."""

    @abstractmethod
    def heatmap(self, org_id: str, query: AnalyticsFilter) -> list[HeatmapCell]:
        """Sessions per (day of week, hour) of their start in the filter's zone; only non-empty cells."""

    @abstractmethod
    def tools(self, org_id: str, query: AnalyticsFilter) -> list[ToolUsageStat]:
        """The 20 most used (tool name, category) pairs."""

    @abstractmethod
    def daily(self, org_id: str, query: AnalyticsFilter) -> list[DailyActivity]:
        """Sessions, messages and output tokens per start day in the filter's zone, oldest first."""

    @abstractmethod
    def tokens_by_model(self, org_id: str, query: AnalyticsFilter) -> list[TokenUsageByModel]:
        """Output and context tokens and messages per model, over messages with a model and output tokens; most
        output tokens first."""
