"""Search of the agent-session store on ClickHouse: git links first for a SHA or PR URL, else a case-insensitive
substring match (UTF-8 aware; the n-gram skip indexes over the lower-cased text serve it) of message content, then
of tool-call input and result, in browsable sessions; snippets are cut in Python."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from core.adapters.clickhouse.session_reads import SessionReads
from core.adapters.clickhouse.session_sql import UTC_MS, utc
from core.agent_sessions.snippets import DEFAULT_WINDOW, extract_snippet
from core.agent_sessions.views import GitLinkResult, Highlight, SearchPage, SearchQuery, SearchResult

SHA = re.compile(r"[0-9a-f]{7,40}")
PR_URL = re.compile(r"https://github\.com/[\w.\-]+/[\w.\-]+/pull/\d+")
_SESSION_COLUMNS = "s.user_id, s.user_name, s.project_name, s.agent_type, s.started_at, s.first_message"


def _matches(column: str) -> str:
    """Case-insensitive substring match of the term in `column`. The LIKE over the lower-cased text (pattern: the
    escaped term, lower-cased by the engine itself) is what the n-gram filter can skip granules for; the cheaper
    `positionCaseInsensitiveUTF8` comes first, so only rows it matched are lower-cased again (AND short-circuits)."""
    return (f"(positionCaseInsensitiveUTF8({column}, {{raw:String}}) > 0 "
            f"AND lowerUTF8({column}) LIKE concat('%', lowerUTF8({{term:String}}), '%'))")


def like_escape(term: str) -> str:
    """The term as a literal inside a LIKE pattern (backslash, % and _ escaped)."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _git_link_hit(link: GitLinkResult) -> SearchResult:
    if link.commit_sha:
        snippet = f"Commit {link.commit_sha[:7]} ({link.confidence} confidence)"
    else:
        snippet = f"PR {link.pr_url} ({link.confidence} confidence)"
    return SearchResult(session_id=link.session_id, ordinal=link.message_ordinal, role="assistant",
                        user_id=link.user_id, user_name=link.user_name, project_name=link.project_name,
                        agent_type=link.agent_type, started_at=link.started_at, first_message=link.first_message,
                        snippet=snippet, highlights=[])


@dataclass(frozen=True, slots=True)
class _Slice:
    """A run of sessions in result order (newest first), down to and including the boundary session, with the
    months their rows live in and their ids (None when too many to name)."""

    index: int
    started_at: datetime
    session_id: str
    months: list[date]
    ids: list[str] | None

    def inside(self) -> str:
        """SQL over `s.`: the session sorts at or before the boundary (a dated session, at or after its start)."""
        at, sid = f"{{slice_at_{self.index}:{UTC_MS}}}", f"{{slice_id_{self.index}:String}}"
        return f"(s.started_at IS NOT NULL AND (s.started_at > {at} OR (s.started_at = {at} AND s.id >= {sid})))"

    def params(self) -> dict[str, Any]:
        return {f"slice_at_{self.index}": self.started_at, f"slice_id_{self.index}": self.session_id,
                f"slice_months_{self.index}": self.months, f"slice_ids_{self.index}": self.ids or []}


# Results are ordered by their session's start, newest first: a frequent term fills a page from the newest sessions
# alone. So the newest sessions holding about 30,000 messages are searched first (by primary key), then those up to
# 200,000, then the rest, stopping once the page is full. A frequent term (which no filter can skip) reads a fraction
# of the text. A term found nowhere in a slice goes straight to the rest: a rare term pays one extra pass, not two
# (each pass re-reads its months' granules and costs tens of milliseconds before any text is matched; at 1,000,000
# messages that took a search for a missing word from ~240 to ~140 ms).
SLICES = (30_000, 200_000)
_MAX_SLICE_IDS = 2_000  # more session ids than this: the slice is narrowed by its months only

@dataclass(frozen=True, slots=True)
class _Kind:
    """How one table is searched: its key column, its match condition, the text to show."""

    table: str
    key: str
    ordinal: str
    role: str  # SQL of the result's role
    match: str  # SQL: the row matches (columns of the table)
    shown: str  # SQL: the text the snippet is cut from


_MESSAGES = _Kind("messages", "message_key", "ordinal", "role", _matches("content"), "content")
_TOOL_CALLS = _Kind("tool_calls", "tool_use_id", "message_ordinal", "'tool'",
                    f"({_matches('input_json')} OR {_matches('result_content')})",
                    f"if({_matches('input_json')}, input_json, result_content)")


class SessionSearch(SessionReads):
    """Per table: find the page (keys and session columns only, so a frequent term does not carry every matching
    text through the join and the sort), newest sessions first; then read the texts of that page by primary key."""

    def search(self, org_id: str, query: SearchQuery) -> SearchPage:
        term = query.q
        links: list[GitLinkResult] = []
        if SHA.fullmatch(term):
            links = self.lookup_git_links(org_id, sha=term)
        elif PR_URL.fullmatch(term):
            links = self.lookup_git_links(org_id, pr_url=term)
        if links:
            hits = [_git_link_hit(link) for link in links[:query.limit]]
            return SearchPage(results=hits, total=len(hits))
        where, params = self._browsable(org_id, query)
        narrowed = params.keys() != {"org"}  # a facet or a date range beyond the browsable rule
        params = {**params, "raw": term, "term": like_escape(term)}
        slices = self._slices(where, params)
        found: list[tuple[Any, ...]] = []  # (session, ordinal, role, text, *session columns)
        for kind in (_MESSAGES, _TOOL_CALLS):
            need = query.limit - len(found)
            rows: list[tuple[Any, ...]] = []
            newer: _Slice | None = None
            pieces: list[_Slice | None] = [*slices, None]  # None: every session after the last slice (all, without)
            while pieces:
                piece = pieces.pop(0)
                here = self._matching(kind, where, params, need - len(rows), piece, newer, narrowed)
                rows += here
                if len(rows) >= need:
                    break
                newer = piece
                if not here:  # a rare term: the next slice would cost a pass for few rows, so search all the rest
                    del pieces[:-1]
            found += self._with_texts(org_id, kind, rows, params)
            if len(found) >= query.limit:
                break
        hits = []
        for session_id, ordinal, role, text, *s in found:
            snippet, spans = extract_snippet(text, term, DEFAULT_WINDOW)
            hits.append(SearchResult(
                session_id=session_id, ordinal=ordinal, role=role, user_id=s[0], user_name=s[1], project_name=s[2],
                agent_type=s[3], started_at=utc(s[4]), first_message=s[5], snippet=snippet,
                highlights=[Highlight(start=a, end=b) for a, b in spans]))
        return SearchPage(results=hits, total=len(hits))

    def _slices(self, where: str, params: dict[str, Any]) -> list[_Slice]:
        """The SLICES of the dated sessions in result order; none past the point where a slice would hold every
        session left (the final pass covers those)."""
        if not SLICES:
            return []
        window = "OVER (ORDER BY s.started_at DESC, s.id DESC ROWS BETWEEN UNBOUNDED PRECEDING AND {frame})"
        rows = self._rows(
            "SELECT started_at, id, session_month, before, total FROM (SELECT s.started_at AS started_at, "
            "s.id AS id, s.session_month AS session_month, "
            f"ifNull(sum(s.message_count) {window.format(frame='1 PRECEDING')}, 0) AS before, "
            "count() OVER () AS total "
            f"FROM {{db}}.sessions AS s FINAL WHERE {where} AND s.started_at IS NOT NULL) "
            "WHERE before < {cap:UInt64} ORDER BY started_at DESC, id DESC", {**params, "cap": SLICES[-1]})
        slices: list[_Slice] = []
        start = 0
        for size in SLICES:
            end = start
            while end < len(rows) and rows[end][3] < size:
                end += 1
            if end == start:
                continue  # the previous slice already holds this many
            if end == rows[0][4]:
                break  # this slice would hold every dated session left: the final pass covers them
            members = rows[start:end]
            ids = [r[1] for r in members]
            slices.append(_Slice(len(slices), utc(members[-1][0]) or datetime.min, members[-1][1],
                                 sorted({r[2] for r in members}), ids if len(ids) <= _MAX_SLICE_IDS else None))
            start = end
        return slices

    def _matching(self, kind: _Kind, where: str, params: dict[str, Any], limit: int, piece: _Slice | None,
                  newer: _Slice | None, narrowed: bool) -> list[tuple[Any, ...]]:
        """The first `limit` matching rows of `kind` (session, month, key, ordinal, role, session columns) among
        the sessions after `newer` and down to `piece` (to the end when None); `narrowed`: the query names a facet
        or a date range."""
        if limit <= 0:
            return []
        session_where, row_where = where, ""
        if piece is not None:
            params = {**params, **piece.params()}
            session_where += f" AND {piece.inside()}"
            row_where = f" AND session_month IN {{slice_months_{piece.index}:Array(Date)}}"
            if piece.ids is not None:  # by primary key: only the slice's sessions are read
                row_where += f" AND session_id IN {{slice_ids_{piece.index}:Array(String)}}"
        if newer is not None:
            params = {**params, **newer.params()}
            session_where += f" AND NOT {newer.inside()}"
        # The rows' own (month, session) IN the wanted sessions lets the primary key skip every other session's
        # granules: what makes a search narrowed to a project or a few days cheap. Without such a filter nearly
        # every session is wanted: the set skips nothing and checking it cost a fifth of each pass (the join below
        # keeps only the wanted sessions' rows either way).
        if narrowed:
            row_where += (" AND (session_month, session_id) IN "
                          f"(SELECT s.session_month, s.id FROM {{db}}.sessions AS s FINAL WHERE {session_where})")
        return self._rows(
            f"SELECT r.session_id, r.session_month, r.key, r.ordinal, r.role, {_SESSION_COLUMNS} FROM "
            f"(SELECT session_id, session_month, {kind.key} AS key, {kind.ordinal} AS ordinal, {kind.role} AS role "
            f"FROM {{db}}.{kind.table} FINAL WHERE org_id = {{org:String}}{row_where} AND {kind.match}) AS r "
            f"INNER JOIN (SELECT s.id, {_SESSION_COLUMNS} FROM {{db}}.sessions AS s FINAL WHERE {session_where}) AS s "
            "ON s.id = r.session_id "
            "ORDER BY s.started_at DESC NULLS LAST, r.session_id DESC, r.ordinal, r.key LIMIT {n:UInt32}",
            {**params, "n": limit})

    def _with_texts(self, org_id: str, kind: _Kind, rows: list[tuple[Any, ...]], params: dict[str, Any]
                    ) -> list[tuple[Any, ...]]:
        """(session, ordinal, role, text to show, *session columns) of the page's rows."""
        texts = self._texts(org_id, kind, rows, params)
        return [(r[0], r[3], r[4], texts.get((r[0], r[2]), ""), *r[5:]) for r in rows]

    def _texts(self, org_id: str, kind: _Kind, rows: list[tuple[Any, ...]], params: dict[str, Any]
               ) -> dict[tuple[str, str], str]:
        """The text to show of the rows named by (session, month, key) in their first three fields, by primary key."""
        if not rows:
            return {}
        wanted = {(r[0], r[2]) for r in rows}
        fetched = self._rows(
            f"SELECT session_id, {kind.key}, {kind.shown} FROM {{db}}.{kind.table} FINAL "
            "WHERE org_id = {org:String} AND session_month IN {months:Array(Date)} "
            f"AND session_id IN {{ids:Array(String)}} AND {kind.key} IN {{keys:Array(String)}}",
            {**params, "org": org_id, "months": sorted({r[1] for r in rows}), "ids": sorted({r[0] for r in rows}),
             "keys": sorted({r[2] for r in rows})})
        return {(r[0], r[1]): r[2] for r in fetched if (r[0], r[1]) in wanted}
