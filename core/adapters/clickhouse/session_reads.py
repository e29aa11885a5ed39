"""The agent-session reads on ClickHouse: the session list (cursor pages), one session, its messages with their tool
calls, its git links and marks, git-link lookups, and the users, projects and agents of browsable sessions."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from core.adapters.clickhouse.session_sql import UTC_MS, SessionSql, utc
from core.agent_sessions.cursor import decode_cursor, encode_cursor
from core.agent_sessions.views import (
    GitLinkResult,
    Message,
    Pin,
    ProjectInfo,
    Session,
    SessionDelete,
    SessionFilter,
    SessionGitLink,
    SessionPage,
    Star,
    ToolCall,
    UserInfo,
)
from core.errors import BadParameter, NotFound

# Session columns in Session's field order (commit_count is added from git_links).
SESSION_FIELDS = ("org_id", "id", "user_id", "user_name", "project_id", "project_name", "project_path", "machine",
                  "agent_type", "first_message", "started_at", "ended_at", "message_count", "user_message_count",
                  "parent_session_id", "relationship_type", "source_created_at", "display_name",
                  "total_output_tokens", "peak_context_tokens")
# ... then the session's month, which reads of its other rows name (not part of the view)
SESSION_SELECT = ", ".join(f"s.{name}" for name in (*SESSION_FIELDS, "session_month"))
_TIMES = ("started_at", "ended_at")
# Commits per session: links of type commit (a pull request is not a commit).
COMMIT_COUNTS = ("SELECT session_id, countIf(link_type = 'commit') AS commit_count FROM {db}.git_links FINAL "
                 "WHERE org_id = {org:String}")
_SESSION_WHERE = "org_id = {org:String} AND session_month IN {months:Array(Date)} AND session_id = {sid:String}"
_MARK_WHERE = f"{_SESSION_WHERE} AND is_deleted = 0"


def session_from_row(row: tuple[Any, ...], commit_count: int) -> Session:
    values = dict(zip(SESSION_FIELDS, row[:len(SESSION_FIELDS)], strict=True))
    for name in _TIMES:
        values[name] = utc(values[name])
    return Session(**values, commit_count=commit_count)


class SessionReads(SessionSql):
    def _commit_counts(self, org_id: str, rows: list[tuple[Any, ...]]) -> dict[str, int]:
        """Commits per session of session rows (SESSION_SELECT: id second, month last)."""
        if not rows:
            return {}
        counts = self._rows(f"{COMMIT_COUNTS} AND session_month IN {{months:Array(Date)}} "
                            "AND session_id IN {ids:Array(String)} GROUP BY session_id",
                            {"org": org_id, "ids": [r[1] for r in rows], "months": sorted({r[-1] for r in rows})})
        return {sid: int(n) for sid, n in counts}

    def _one_session(self, org_id: str, session_id: str) -> dict[str, Any] | None:
        """The query parameters naming one session's rows (its months), or None when the org has no such session."""
        months = self._session_months(org_id, [session_id]).get(session_id)
        return {"org": org_id, "sid": session_id, "months": list(months)} if months else None

    def list_sessions(self, org_id: str, query: SessionFilter) -> SessionPage:
        where, params = self._browsable(org_id, query, include_subagents=query.include_subagents)
        total = int(self._rows(f"SELECT count() FROM {{db}}.sessions AS s FINAL WHERE {where}", params)[0][0])
        page_where = where
        if query.cursor:
            at, cursor_id = decode_cursor(query.cursor)
            params = {**params, "cursor_id": cursor_id}
            if at is None:  # among the undated sessions, which sort last
                page_where += " AND s.started_at IS NULL AND s.id < {cursor_id:String}"
            else:
                params["cursor_at"] = at
                page_where += (f" AND (s.started_at < {{cursor_at:{UTC_MS}}} OR (s.started_at = {{cursor_at:{UTC_MS}}}"
                               " AND s.id < {cursor_id:String}) OR s.started_at IS NULL)")
        rows = self._rows(f"SELECT {SESSION_SELECT} FROM {{db}}.sessions AS s FINAL WHERE {page_where} "
                          "ORDER BY s.started_at DESC NULLS LAST, s.id DESC LIMIT {n:UInt32}",
                          {**params, "n": query.limit + 1})
        more = len(rows) > query.limit
        rows = rows[:query.limit]
        counts = self._commit_counts(org_id, rows)
        sessions = [session_from_row(r, counts.get(r[1], 0)) for r in rows]
        next_cursor = encode_cursor(sessions[-1].started_at, sessions[-1].id) if more and sessions else ""
        return SessionPage(sessions=sessions, next_cursor=next_cursor, total=total)

    def get_session(self, org_id: str, session_id: str) -> Session:
        rows = self._rows(f"SELECT {SESSION_SELECT} FROM {{db}}.sessions AS s FINAL "
                          "WHERE s.org_id = {org:String} AND s.id = {sid:String}", {"org": org_id, "sid": session_id})
        if not rows:
            raise NotFound(f"session {session_id!r} not found")
        return session_from_row(rows[0], self._commit_counts(org_id, rows[:1]).get(session_id, 0))

    def session_messages(self, org_id: str, session_id: str) -> list[Message]:
        params = self._one_session(org_id, session_id)
        if params is None:
            return []
        calls: dict[int, list[ToolCall]] = defaultdict(list)
        for r in self._rows(
                "SELECT org_id, session_id, message_ordinal, tool_use_id, tool_name, tool_category, input_json, "
                "skill_name, result_content, result_content_length, subagent_session_id FROM {db}.tool_calls FINAL "
                f"WHERE {_SESSION_WHERE} ORDER BY message_ordinal, tool_use_id", params):
            calls[int(r[2])].append(ToolCall(
                org_id=r[0], session_id=r[1], message_ordinal=r[2], tool_use_id=r[3], tool_name=r[4],
                tool_category=r[5], input_json=r[6], skill_name=r[7], result_content=r[8],
                result_content_length=r[9], subagent_session_id=r[10]))
        rows = self._rows(
            "SELECT session_id, ordinal, uuid, role, content, timestamp, has_thinking, has_tool_use, content_length, "
            "model, token_usage, context_tokens, output_tokens FROM {db}.messages FINAL "
            f"WHERE {_SESSION_WHERE} ORDER BY ordinal, message_key", params)
        return [Message(session_id=r[0], ordinal=r[1], uuid=r[2], role=r[3], content=r[4], timestamp=utc(r[5]),
                        has_thinking=r[6], has_tool_use=r[7], content_length=r[8], model=r[9], token_usage=r[10],
                        context_tokens=r[11], output_tokens=r[12], tool_calls=calls.get(int(r[1]), []))
                for r in rows]

    def session_git_links(self, org_id: str, session_id: str) -> list[SessionGitLink]:
        params = self._one_session(org_id, session_id)
        if params is None:
            return []
        rows = self._rows(
            "SELECT org_id, session_id, user_id, message_ordinal, commit_sha, pr_url, link_type, confidence, "
            f"detected_at FROM {{db}}.git_links FINAL WHERE {_SESSION_WHERE} "
            "ORDER BY message_ordinal, detected_at, commit_sha, pr_url", params)
        return [SessionGitLink(org_id=r[0], session_id=r[1], user_id=r[2], message_ordinal=r[3], commit_sha=r[4],
                               pr_url=r[5], link_type=r[6], confidence=r[7], detected_at=utc(r[8])) for r in rows]

    def lookup_git_links(self, org_id: str, sha: str | None = None, pr_url: str | None = None
                         ) -> list[GitLinkResult]:
        params: dict[str, Any] = {"org": org_id}
        if sha:
            sha = sha.strip().lower()
            cond = "startsWith(gl.commit_sha, {sha:String})"
            params["sha"] = sha
            if len(sha) >= 7:  # lets the SHA-prefix bloom filter skip granules
                cond += " AND substring(gl.commit_sha, 1, 7) = {sha7:String}"
                params["sha7"] = sha[:7]
        elif pr_url:
            cond = "gl.pr_url = {pr:String}"
            params["pr"] = pr_url.strip()
        else:
            raise BadParameter("invalid parameter 'sha': give sha or pr")
        rows = self._rows(
            "SELECT gl.session_id, s.user_id, s.user_name, s.project_id, s.project_name, s.agent_type, s.started_at, "
            "s.first_message, gl.commit_sha, gl.pr_url, gl.link_type, gl.confidence, gl.message_ordinal "
            "FROM {db}.git_links AS gl FINAL "
            "INNER JOIN (SELECT id, user_id, user_name, project_id, project_name, agent_type, started_at, first_message"
            " FROM {db}.sessions FINAL WHERE org_id = {org:String}) AS s ON s.id = gl.session_id "
            f"WHERE gl.org_id = {{org:String}} AND {cond} "
            "ORDER BY gl.detected_at DESC, gl.session_id, gl.commit_sha, gl.pr_url", params)
        return [GitLinkResult(session_id=r[0], user_id=r[1], user_name=r[2], project_id=r[3], project_name=r[4],
                              agent_type=r[5], started_at=utc(r[6]), first_message=r[7], commit_sha=r[8],
                              pr_url=r[9], link_type=r[10], confidence=r[11], message_ordinal=r[12]) for r in rows]

    def users(self, org_id: str) -> list[UserInfo]:
        where, params = self._browsable(org_id, None)
        rows = self._rows(f"SELECT DISTINCT s.user_id, s.user_name FROM {{db}}.sessions AS s FINAL WHERE {where} "
                          "ORDER BY s.user_name, s.user_id", params)
        return [UserInfo(id=r[0], name=r[1]) for r in rows]

    def projects(self, org_id: str) -> list[ProjectInfo]:
        where, params = self._browsable(org_id, None)
        rows = self._rows(
            f"SELECT s.project_id, s.project_name, min(s.project_path) FROM {{db}}.sessions AS s FINAL "
            f"WHERE {where} AND s.project_name != '' GROUP BY s.project_id, s.project_name "
            "ORDER BY s.project_name, s.project_id", params)
        return [ProjectInfo(id=r[0], name=r[1], path=r[2]) for r in rows]

    def agents(self, org_id: str) -> list[str]:
        where, params = self._browsable(org_id, None)
        rows = self._rows(f"SELECT DISTINCT s.agent_type FROM {{db}}.sessions AS s FINAL "
                          f"WHERE {where} AND s.agent_type != '' ORDER BY s.agent_type", params)
        return [str(r[0]) for r in rows]

    def session_stars(self, org_id: str, session_id: str) -> list[Star]:
        params = self._one_session(org_id, session_id)
        if params is None:
            return []
        rows = self._rows(f"SELECT session_id, user_id, created_at FROM {{db}}.session_stars FINAL "
                          f"WHERE {_MARK_WHERE} ORDER BY created_at, user_id", params)
        return [Star(session_id=r[0], user_id=r[1], created_at=utc(r[2])) for r in rows]

    def session_pins(self, org_id: str, session_id: str) -> list[Pin]:
        params = self._one_session(org_id, session_id)
        if params is None:
            return []
        rows = self._rows(f"SELECT session_id, message_ordinal, user_id, note, created_at FROM {{db}}.message_pins "
                          f"FINAL WHERE {_MARK_WHERE} ORDER BY message_ordinal, created_at, user_id", params)
        return [Pin(session_id=r[0], message_ordinal=r[1], user_id=r[2], note=r[3], created_at=utc(r[4]))
                for r in rows]

    def session_deletes(self, org_id: str) -> list[SessionDelete]:
        rows = self._rows("SELECT session_id, user_id, created_at FROM {db}.session_deletes FINAL "
                          "WHERE org_id = {org:String} AND is_deleted = 0 "
                          "ORDER BY created_at DESC, session_id, user_id", {"org": org_id})
        return [SessionDelete(session_id=r[0], user_id=r[1], created_at=utc(r[2])) for r in rows]
