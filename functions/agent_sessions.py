"""Entry point `agent_sessions`: the agent-session store under /api/v1 (sessions, search, links, analytics, sync)."""

from __future__ import annotations

from datetime import UTC, datetime

import flask
from pydantic import Field

from core.agent_sessions import responses as r
from core.agent_sessions.models import SyncBatch, SyncResult
from core.agent_sessions.sync import sync
from core.agent_sessions.views import (
    AnalyticsFilter,
    Pin,
    SearchPage,
    SearchQuery,
    Session,
    SessionDelete,
    SessionFilter,
    SessionPage,
    Star,
)
from core.errors import BadParameter
from core.ports.agent_sessions import AgentSessionStore
from functions._api import Call, Operation, serve


def _s(c: Call) -> AgentSessionStore:
    return c.services.analytics.sessions


def _known(c: Call, session_id: str | None = None) -> AgentSessionStore:
    """The store, once the session named by the path (or `session_id`) is one of the caller's org: a session of
    another org, or none, is a 404 for its sub-resources and marks too."""
    store = _s(c)
    store.get_session(c.org_id, c.path["session_id"] if session_id is None else session_id)
    return store


def _now() -> datetime:
    return datetime.now(UTC)


def _git_links(c: Call) -> r.GitLinkResultList:
    q: r.GitLinkQuery = c.params
    if not q.sha and not q.pr:
        raise BadParameter("one of the parameters 'sha' or 'pr' is required")
    return r.GitLinkResultList(_s(c).lookup_git_links(c.org_id, sha=q.sha, pr_url=q.pr))


def _star(c: Call, on: bool) -> None:
    user = c.body.user_id if on else c.params.user_id
    _known(c).set_star(c.org_id, Star(session_id=c.path["session_id"], user_id=user, created_at=_now()), on)


def _pin(c: Call, on: bool) -> None:
    src = c.body if on else c.params
    _known(c).set_pin(c.org_id, Pin(session_id=c.path["session_id"], user_id=src.user_id,
                                message_ordinal=src.message_ordinal, note=c.body.note if on else "",
                                created_at=_now()), on)


def _session_delete(c: Call, on: bool) -> None:
    src = c.body if on else c.params
    _known(c, src.session_id).set_session_delete(c.org_id, SessionDelete(session_id=src.session_id, user_id=src.user_id,
                                                     created_at=_now()), on)


class _DeleteParam(r.UserParam):
    session_id: str = Field(min_length=1, max_length=256)


OPERATIONS: dict[str, Operation] = {
    "v1_list_sessions": Operation(lambda c: _s(c).list_sessions(c.org_id, c.params), SessionPage, SessionFilter),
    "v1_get_session": Operation(lambda c: _s(c).get_session(c.org_id, c.path["session_id"]), Session),
    "v1_session_messages": Operation(
        lambda c: r.MessageList(_known(c).session_messages(c.org_id, c.path["session_id"])), r.MessageList),
    "v1_session_git_links": Operation(
        lambda c: r.SessionGitLinkList(_known(c).session_git_links(c.org_id, c.path["session_id"])),
        r.SessionGitLinkList),
    "v1_session_stars": Operation(
        lambda c: r.StarList(_known(c).session_stars(c.org_id, c.path["session_id"])), r.StarList),
    "v1_star_session": Operation(lambda c: _star(c, True), None, body=r.StarBody, status=204),
    "v1_unstar_session": Operation(lambda c: _star(c, False), None, r.UserParam, status=204),
    "v1_session_pins": Operation(
        lambda c: r.PinList(_known(c).session_pins(c.org_id, c.path["session_id"])), r.PinList),
    "v1_pin_message": Operation(lambda c: _pin(c, True), None, body=r.PinBody, status=204),
    "v1_unpin_message": Operation(lambda c: _pin(c, False), None, r.PinParam, status=204),
    "v1_session_deletes": Operation(
        lambda c: r.SessionDeleteList(_s(c).session_deletes(c.org_id)), r.SessionDeleteList),
    "v1_delete_session": Operation(lambda c: _session_delete(c, True), None, body=r.SessionDeleteBody, status=204),
    "v1_undelete_session": Operation(lambda c: _session_delete(c, False), None, _DeleteParam, status=204),
    "v1_users": Operation(lambda c: r.UserList(_s(c).users(c.org_id)), r.UserList),
    "v1_projects": Operation(lambda c: r.ProjectList(_s(c).projects(c.org_id)), r.ProjectList),
    "v1_agents": Operation(lambda c: r.AgentList(_s(c).agents(c.org_id)), r.AgentList),
    "v1_search": Operation(lambda c: _s(c).search(c.org_id, c.params), SearchPage, SearchQuery),
    "v1_git_links": Operation(_git_links, r.GitLinkResultList, r.GitLinkQuery),
    "v1_usage": Operation(lambda c: r.UserUsageList(_s(c).usage(c.org_id, c.params)), r.UserUsageList,
                          AnalyticsFilter),
    "v1_heatmap": Operation(lambda c: r.HeatmapCellList(_s(c).heatmap(c.org_id, c.params)), r.HeatmapCellList,
                            AnalyticsFilter),
    "v1_tools": Operation(lambda c: r.ToolUsageList(_s(c).tools(c.org_id, c.params)), r.ToolUsageList,
                          AnalyticsFilter),
    "v1_daily": Operation(lambda c: r.DailyActivityList(_s(c).daily(c.org_id, c.params)), r.DailyActivityList,
                          AnalyticsFilter),
    "v1_tokens_by_model": Operation(
        lambda c: r.TokenUsageByModelList(_s(c).tokens_by_model(c.org_id, c.params)), r.TokenUsageByModelList,
        AnalyticsFilter),
    "v1_sync": Operation(lambda c: sync(_s(c), c.org_id, c.body), SyncResult, body=SyncBatch),
}


def agent_sessions(request: flask.Request) -> flask.Response:
    return serve(request, "agent_sessions", OPERATIONS)
