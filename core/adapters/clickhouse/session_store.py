"""ClickHouseAgentSessions: the AgentSessionStore on ClickHouse — schema, batched idempotent writes, marks; the
reads, search and analytics come from the mixins of their own modules.

Writes: one insert per table per batch (a JSONCompactColumns document, split past `INSERT_CHUNK` rows), encoded on
the calling thread while earlier tables' inserts run on the insert pool (two at a time); a table's rows under
`ASYNC_BELOW` go as an async insert the server waits to flush (`async_insert=1, wait_for_async_insert=1`), so many
small syncs make few parts. Every row carries `_version` (ReplacingMergeTree keeps the highest) and its session's
`session_month` (see session_schema), fixed at first sight in `session_buckets` and cached per process.

Two processes that see a brand-new session at the same moment each register a month; both read the registry back
and write under the oldest, so they agree unless one read before the other registered — and even then only when the
months differ (the sightings straddle a month boundary). Within a process a lock rules it out.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from datetime import UTC, date, datetime
from functools import partial
from operator import attrgetter
from typing import Any

import orjson

from core.adapters.clickhouse.connection import ASYNC_BELOW, AnalyticsConnection, WorkerPool
from core.adapters.clickhouse.session_analytics import SessionAnalytics
from core.adapters.clickhouse.session_schema import (
    DEFAULT_TTL_DAYS,
    TABLES,
    migrations,
    retention_statements,
)
from core.adapters.clickhouse.session_search import SessionSearch
from core.adapters.clickhouse.session_sql import SessionSql, month_of, utc
from core.agent_sessions.models import AgentMessage, AgentSession, AgentToolCall, GitLink
from core.agent_sessions.views import Pin, SessionDelete, Star
from core.errors import NotFound
from core.ports.agent_sessions import AgentSessionStore

INSERT_CHUNK = 100_000  # rows per insert statement: bounds client memory, still thousands per insert
# Two inserts at a time, each on its own engine handle, while the caller encodes the next table.
_INSERTS = WorkerPool("agent-session-insert", 2)

SESSION_COLUMNS = ["org_id", "id", "user_id", "user_name", "project_id", "project_name", "project_path", "machine",
                   "agent_type", "first_message", "started_at", "ended_at", "message_count", "user_message_count",
                   "parent_session_id", "relationship_type", "source_created_at", "display_name",
                   "total_output_tokens", "peak_context_tokens", "session_month", "_version"]
MESSAGE_COLUMNS = ["org_id", "session_id", "message_key", "ordinal", "uuid", "role", "content", "timestamp",
                   "has_thinking", "has_tool_use", "model", "token_usage", "context_tokens", "output_tokens",
                   "session_month", "_version"]
TOOL_CALL_COLUMNS = ["org_id", "session_id", "tool_use_id", "message_ordinal", "tool_name", "tool_category",
                     "input_json", "skill_name", "result_content", "result_content_length", "subagent_session_id",
                     "session_month", "_version"]
GIT_LINK_COLUMNS = ["org_id", "session_id", "user_id", "message_ordinal", "commit_sha", "pr_url", "link_type",
                    "confidence", "detected_at", "session_month", "_version"]
_MARK_TAIL = ["created_at", "is_deleted", "session_month", "_version"]
STAR_COLUMNS = ["org_id", "session_id", "user_id", *_MARK_TAIL]
PIN_COLUMNS = ["org_id", "session_id", "message_ordinal", "user_id", "note", *_MARK_TAIL]
DELETE_COLUMNS = ["org_id", "session_id", "user_id", *_MARK_TAIL]


class ClickHouseAgentSessions(SessionSearch, SessionAnalytics, AgentSessionStore):
    """The agent-session store on one AnalyticsConnection (its database). Call `ensure_schema()` once at start."""

    def __init__(self, conn: AnalyticsConnection, ttl_days: int = DEFAULT_TTL_DAYS,
                 clock: Callable[[], float] = time.time) -> None:
        SessionSql.__init__(self, conn, ttl_days, clock)
        self._assign_lock = threading.Lock()

    # --- schema ---------------------------------------------------------------------------------------------------

    def ensure_schema(self) -> list[int]:
        """Create the database and tables (idempotent, versioned); bring the tables' TTL to `ttl_days`. Returns the
        migration versions applied now."""
        applied = self._conn.migrate(migrations(self._ttl_days))
        self.apply_retention(self._ttl_days)
        return applied

    def apply_retention(self, ttl_days: int) -> list[str]:
        """Set the TTL of every table whose TTL differs from `ttl_days`; returns the tables changed."""
        statements = dict(zip(TABLES, retention_statements(ttl_days), strict=True))
        rows = self._rows("SELECT name, create_table_query FROM system.tables WHERE database = {db:String}",
                          {"db": self._db})
        wanted = f"toIntervalDay({int(ttl_days)})"
        changed = [name for name, ddl in rows if name in statements and wanted not in ddl]
        for name in changed:
            self._command(statements[name])
        self._ttl_days = ttl_days
        return changed

    # --- writes ---------------------------------------------------------------------------------------------------

    def write_batch(self, org_id: str, sessions: Sequence[AgentSession] = (), messages: Sequence[AgentMessage] = (),
                    tool_calls: Sequence[AgentToolCall] = (), git_links: Sequence[GitLink] = (), *,
                    version: int | None = None, batch_id: str | None = None) -> None:
        if not (sessions or messages or tool_calls or git_links):
            return
        now = self._now()
        v = version if version is not None else int(now.timestamp() * 1000)
        of_session = attrgetter("session_id")
        ids = {s.id for s in sessions}.union(map(of_session, messages), map(of_session, tool_calls),
                                             map(of_session, git_links))

        def first_times(new: set[str]) -> dict[str, datetime]:
            firsts: dict[str, datetime] = {}
            for sid, at in itertools.chain(((s.id, s.started_at) for s in sessions),
                                           ((g.session_id, g.detected_at) for g in git_links)):
                _earliest(firsts, new, sid, at)
            if new - firsts.keys():  # messages came before their session row: their earliest time
                for m in messages:
                    _earliest(firsts, new, m.session_id, m.timestamp)
            return firsts

        months = self._assign_months(org_id, ids, first_times)
        jobs: list[tuple[str, list[str], Callable[[], list[list[Any]]]]] = []
        if sessions:
            jobs.append(("sessions", SESSION_COLUMNS, lambda: _session_columns(org_id, sessions, months, v)))
        if messages:
            jobs.append(("messages", MESSAGE_COLUMNS, lambda: _message_columns(org_id, messages, months, v)))
        if tool_calls:
            jobs.append(("tool_calls", TOOL_CALL_COLUMNS, lambda: _tool_call_columns(org_id, tool_calls, months, v)))
        if git_links:
            jobs.append(("git_links", GIT_LINK_COLUMNS, lambda: _git_link_columns(org_id, git_links, months, v, now)))
        self._write_tables(jobs, batch_id)

    def _write_tables(self, jobs: list[tuple[str, list[str], Callable[[], list[list[Any]]]]],
                      batch_id: str | None) -> None:
        """Insert each table's rows on the insert threads while this thread encodes the next table's (the engine
        releases the GIL: encoding and inserting overlap on the cores). Returns once every insert is done; raises
        the first failure."""
        pending: list[Future[None]] = []
        try:
            for table, columns, build in jobs:
                data = build()
                n = len(data[0])
                for index, lo in enumerate(range(0, n, INSERT_CHUNK)):
                    chunk = data if n <= INSERT_CHUNK else [col[lo:lo + INSERT_CHUNK] for col in data]
                    body = orjson.dumps(chunk)
                    for done in pending:
                        if done.done() and done.exception() is not None:
                            raise done.exception()  # type: ignore[misc]
                    pending.append(_INSERTS.submit(partial(
                        self._insert_body, table, columns, body, _insert_settings(table, n, index, batch_id))))
        finally:
            for future in pending:
                future.exception()  # wait for every submitted insert before returning or raising
        for future in pending:
            future.result()

    def _assign_months(self, org_id: str, ids: set[str], first_times: Callable[[set[str]], dict[str, datetime]]
                       ) -> dict[str, date]:
        """The month each session's rows are written under: its registered month, else fixed now at first sight
        (the month of the earliest time the writes carry for it; this month without one, never a later one)."""
        with self._assign_lock:
            months = {sid: ms[0] for sid, ms in self._session_months(org_id, ids).items()}
            new = ids - months.keys()
            if new:
                firsts = first_times(new)
                today = self._now().date()
                chosen = {sid: month_of(min(firsts[sid].astimezone(UTC).date(), today)) if sid in firsts
                          else month_of(today) for sid in new}
                ordered = sorted(new)
                # (an async insert waited for is visible when it returns, as the read-back needs)
                self._insert("session_buckets", ["org_id", "session_id", "session_month"],
                             [[org_id] * len(ordered), ordered, [chosen[sid] for sid in ordered]],
                             _insert_settings("session_buckets", len(ordered), 0, None))
                # Read back: a writer in another process that registered one of these sessions meanwhile is seen,
                # and both then write under the oldest month registered.
                settled = self._session_months(org_id, ordered, cached=False)
                months.update((sid, settled[sid][0] if sid in settled else chosen[sid]) for sid in ordered)
            return months

    def get_session_row(self, org_id: str, session_id: str) -> AgentSession:
        rows = self._session_rows(org_id, [session_id])
        if not rows:
            raise NotFound(f"session {session_id!r} not found")
        return rows[0][0]

    def get_session_rows(self, org_id: str, session_ids: Sequence[str]) -> dict[str, AgentSession]:
        return {row.id: row for row, _ in self._session_rows(org_id, session_ids)} if session_ids else {}

    def _session_rows(self, org_id: str, session_ids: Sequence[str]) -> list[tuple[AgentSession, int]]:
        """The stored rows (wire model) of these sessions with their versions."""
        fields = SESSION_COLUMNS[1:-2]
        rows = self._rows(f"SELECT {', '.join(fields)}, _version FROM {{db}}.sessions FINAL "
                          "WHERE org_id = {org:String} AND id IN {ids:Array(String)} ORDER BY id",
                          {"org": org_id, "ids": list(session_ids)})
        out = []
        for r in rows:
            values = dict(zip(fields, r[:-1], strict=True))
            values["started_at"], values["ended_at"] = utc(values["started_at"]), utc(values["ended_at"])
            out.append((AgentSession(**values), int(r[-1])))
        return out

    def erase_session(self, org_id: str, session_id: str) -> None:
        for table in TABLES:  # lightweight deletes: the rows vanish from every read at once
            column = "id" if table == "sessions" else "session_id"
            self._command(f"DELETE FROM {{db}}.{table} WHERE org_id = {{org:String}} AND {column} = {{sid:String}}",
                          {"org": org_id, "sid": session_id})
        with self._months_lock:
            self._months.pop((org_id, session_id), None)

    def recount_sessions(self, org_id: str, session_ids: Sequence[str]) -> None:
        ids = sorted(set(session_ids))
        if not ids:
            return
        months = self._months_of(org_id, ids)
        counts = {r[0]: r[1:] for r in self._rows(
            "SELECT session_id, count(), countIf(role = 'user'), sum(output_tokens), max(context_tokens) "
            "FROM {db}.messages FINAL WHERE org_id = {org:String} AND session_month IN {months:Array(Date)} "
            "AND session_id IN {ids:Array(String)} GROUP BY session_id", {"org": org_id, "ids": ids, "months": months})}
        changed: list[AgentSession] = []
        newest = 0
        for row, version in self._session_rows(org_id, ids):
            n, users, output, context = counts.get(row.id, (0, 0, 0, 0))
            update = {"message_count": int(n), "user_message_count": int(users),
                      "total_output_tokens": int(output) or row.total_output_tokens,
                      "peak_context_tokens": max(int(context), row.peak_context_tokens)}
            if any(getattr(row, k) != v for k, v in update.items()):
                changed.append(row.model_copy(update=update))
                newest = max(newest, version)
        if changed:
            now = self._now()
            # Newer than the rows it corrects, even when written within the same millisecond.
            self.write_batch(org_id, sessions=changed, version=max(int(now.timestamp() * 1000), newest + 1))

    def message_ordinals(self, org_id: str, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        return self._ordinals(org_id, "messages", "message_key", "ordinal", keys)

    def tool_call_ordinals(self, org_id: str, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        return self._ordinals(org_id, "tool_calls", "tool_use_id", "message_ordinal", keys)

    def _ordinals(self, org_id: str, table: str, key: str, ordinal: str, keys: Sequence[tuple[str, str]]
                  ) -> dict[tuple[str, str], int]:
        """(session, key) -> ordinal of the stored rows among `keys` (a message's key is its uuid when it has one)."""
        sids = sorted({s for s, _ in keys})
        months = self._months_of(org_id, sids)
        if not months:
            return {}
        # The sessions select the key ranges; a set of pairs would be analysed against every granule.
        rows = self._rows(f"SELECT session_id, {key}, {ordinal} FROM {{db}}.{table} FINAL "
                          "WHERE org_id = {org:String} AND session_month IN {months:Array(Date)} "
                          f"AND session_id IN {{sids:Array(String)}} AND {key} IN {{keys:Array(String)}}",
                          {"org": org_id, "months": months, "sids": sids, "keys": sorted({k for _, k in keys})})
        wanted = set(keys)
        return {(str(r[0]), str(r[1])): int(r[2]) for r in rows if (r[0], r[1]) in wanted}

    def sessions_with_ordinals_below(self, org_id: str, session_ids: Sequence[str], bound: int) -> set[str]:
        sids = sorted(set(session_ids))
        months = self._months_of(org_id, sids)
        if not months:
            return set()
        rows = self._rows("SELECT DISTINCT session_id FROM {db}.messages WHERE org_id = {org:String} "
                          "AND session_month IN {months:Array(Date)} AND session_id IN {sids:Array(String)} "
                          "AND ordinal < {bound:UInt64}",
                          {"org": org_id, "months": months, "sids": sids, "bound": bound})
        return {str(r[0]) for r in rows}

    def _months_of(self, org_id: str, session_ids: Sequence[str]) -> list[date]:
        return sorted({m for ms in self._session_months(org_id, session_ids).values() for m in ms})

    def last_ordinal(self, org_id: str, session_id: str) -> int | None:
        months = self._session_months(org_id, [session_id]).get(session_id)
        if not months:
            return None
        rows = self._rows("SELECT max(ordinal), count() FROM {db}.messages WHERE org_id = {org:String} "
                          "AND session_month IN {months:Array(Date)} AND session_id = {sid:String}",
                          {"org": org_id, "sid": session_id, "months": list(months)})
        return int(rows[0][0]) if rows and rows[0][1] else None

    # --- marks ----------------------------------------------------------------------------------------------------

    def set_star(self, org_id: str, star: Star, starred: bool = True) -> None:
        self._write_marks(org_id, [(star, not starred)], [], [])

    def set_pin(self, org_id: str, pin: Pin, pinned: bool = True) -> None:
        self._write_marks(org_id, [], [(pin, not pinned)], [])

    def set_session_delete(self, org_id: str, mark: SessionDelete, deleted: bool = True) -> None:
        self._write_marks(org_id, [], [], [(mark, not deleted)])

    def replace_marks(self, org_id: str, user_id: str, stars: Sequence[Star], pins: Sequence[Pin],
                      deletes: Sequence[SessionDelete]) -> None:
        params = {"org": org_id, "user": user_id}
        where = "WHERE org_id = {org:String} AND user_id = {user:String} AND is_deleted = 0"
        old_stars = {r[0]: r[1] for r in self._rows(f"SELECT session_id, created_at FROM {{db}}.session_stars FINAL "
                                                    f"{where}", params)}
        old_pins = {(r[0], int(r[1])): (r[2], r[3]) for r in self._rows(
            f"SELECT session_id, message_ordinal, note, created_at FROM {{db}}.message_pins FINAL {where}", params)}
        old_deletes = {r[0]: r[1] for r in self._rows(
            f"SELECT session_id, created_at FROM {{db}}.session_deletes FINAL {where}", params)}
        new_stars = {s.session_id: s.model_copy(update={"user_id": user_id}) for s in stars}
        new_pins = {(p.session_id, p.message_ordinal): p.model_copy(update={"user_id": user_id}) for p in pins}
        new_deletes = {d.session_id: d.model_copy(update={"user_id": user_id}) for d in deletes}
        star_rows: list[tuple[Star, bool]] = [(s, False) for sid, s in new_stars.items()
                                              if sid not in old_stars or _changed(s.created_at, old_stars[sid])]
        star_rows += [(Star(session_id=sid, user_id=user_id, created_at=utc(at)), True)
                      for sid, at in old_stars.items() if sid not in new_stars]
        pin_rows: list[tuple[Pin, bool]] = [
            (p, False) for key, p in new_pins.items()
            if key not in old_pins or p.note != old_pins[key][0] or _changed(p.created_at, old_pins[key][1])]
        pin_rows += [(Pin(session_id=key[0], message_ordinal=key[1], user_id=user_id, note=note, created_at=utc(at)),
                      True) for key, (note, at) in old_pins.items() if key not in new_pins]
        delete_rows: list[tuple[SessionDelete, bool]] = [
            (d, False) for sid, d in new_deletes.items()
            if sid not in old_deletes or _changed(d.created_at, old_deletes[sid])]
        delete_rows += [(SessionDelete(session_id=sid, user_id=user_id, created_at=utc(at)), True)
                        for sid, at in old_deletes.items() if sid not in new_deletes]
        self._write_marks(org_id, star_rows, pin_rows, delete_rows)

    def _write_marks(self, org_id: str, stars: list[tuple[Star, bool]], pins: list[tuple[Pin, bool]],
                     deletes: list[tuple[SessionDelete, bool]]) -> None:
        if not (stars or pins or deletes):
            return
        now = self._now()
        v = int(now.timestamp() * 1000)
        marks = [mark for mark, _ in [*stars, *pins, *deletes]]

        def first_times(new: set[str]) -> dict[str, datetime]:
            firsts: dict[str, datetime] = {}
            for mark in marks:
                _earliest(firsts, new, mark.session_id, mark.created_at)
            return firsts

        months = self._assign_months(org_id, {m.session_id for m in marks}, first_times)

        def tail(mark: Star | Pin | SessionDelete, withdrawn: bool) -> list[Any]:
            return [mark.created_at or now, int(withdrawn), months[mark.session_id], v]

        if stars:
            self._insert("session_stars", STAR_COLUMNS, _columns(
                [[org_id, s.session_id, s.user_id, *tail(s, w)] for s, w in stars]),
                _insert_settings("session_stars", len(stars), 0, None))
        if pins:
            self._insert("message_pins", PIN_COLUMNS, _columns(
                [[org_id, p.session_id, p.message_ordinal, p.user_id, p.note, *tail(p, w)] for p, w in pins]),
                _insert_settings("message_pins", len(pins), 0, None))
        if deletes:
            self._insert("session_deletes", DELETE_COLUMNS, _columns(
                [[org_id, d.session_id, d.user_id, *tail(d, w)] for d, w in deletes]),
                _insert_settings("session_deletes", len(deletes), 0, None))


def _insert_settings(table: str, rows: int, chunk: int, batch_id: str | None) -> dict[str, Any]:
    # optimize_on_insert=0: the engine would otherwise collapse each block by key while inserting (several times
    # its insert cost); every read resolves versions with FINAL anyway.
    settings: dict[str, Any] = {"optimize_on_insert": 0}
    if batch_id is not None:
        settings["insert_deduplication_token"] = f"{batch_id}:{table}:{chunk}"
    if rows < ASYNC_BELOW:
        settings.update(async_insert=1, wait_for_async_insert=1)
        if batch_id is not None:
            settings["async_insert_deduplicate"] = 1
    return settings


def _earliest(firsts: dict[str, datetime], wanted: set[str], session_id: str, at: datetime | None) -> None:
    """Keep the earliest time seen for a wanted session."""
    if at is not None and session_id in wanted:
        known = firsts.get(session_id)
        if known is None or at < known:
            firsts[session_id] = at


def _changed(new: datetime | None, old: datetime | None) -> bool:
    """Whether a re-sent mark differs from the stored one (a mark without a time keeps the stored time)."""
    return new is not None and utc(new) != utc(old)


def _columns(rows: list[list[Any]]) -> list[list[Any]]:
    return [list(col) for col in zip(*rows, strict=True)]


_SESSION_FIELDS = (
    "id", "user_id", "user_name", "project_id", "project_name", "project_path", "machine", "agent_type",
    "first_message", "started_at", "ended_at", "message_count", "user_message_count", "parent_session_id",
    "relationship_type", "source_created_at", "display_name", "total_output_tokens", "peak_context_tokens")
_MESSAGE_FIELDS = ("session_id", "uuid", "ordinal", "role", "content", "timestamp", "has_thinking",
                             "has_tool_use", "model", "token_usage", "context_tokens", "output_tokens")
_TOOL_CALL_FIELDS = ("session_id", "tool_use_id", "message_ordinal", "tool_name", "tool_category",
                               "input_json", "skill_name", "result_content", "subagent_session_id")
_GIT_LINK_FIELDS = ("session_id", "user_id", "message_ordinal", "commit_sha", "pr_url", "link_type",
                              "confidence", "detected_at")


def _transpose(fields: tuple[str, ...], items: Sequence[Any]) -> list[list[Any]]:
    """Columns of the items' fields, one C-level pass per field: no tuple per item (a batch of thousands of them
    also set off the cyclic garbage collector over the whole heap)."""
    return [list(map(attrgetter(f), items)) for f in fields]


def _session_columns(org_id: str, sessions: Sequence[AgentSession], months: dict[str, date], v: int
                     ) -> list[Any]:
    n = len(sessions)
    cols = _transpose(_SESSION_FIELDS, sessions)
    return [[org_id] * n, *cols, [months[sid] for sid in cols[0]], [v] * n]


def _message_columns(org_id: str, messages: Sequence[AgentMessage], months: dict[str, date], v: int) -> list[Any]:
    n = len(messages)
    sid, uuid, ordinal, role, content, ts, thinking, tool_use, model, usage, ctx, out = _transpose(
        _MESSAGE_FIELDS, messages)
    keys = [u or f"ord:{o}" for u, o in zip(uuid, ordinal, strict=True)]
    return [[org_id] * n, sid, keys, ordinal, uuid, role, content, ts, thinking, tool_use, model, usage, ctx, out,
            [months[s] for s in sid], [v] * n]


def _tool_call_columns(org_id: str, calls: Sequence[AgentToolCall], months: dict[str, date], v: int) -> list[Any]:
    n = len(calls)
    sid, tuid, ordinal, name, category, inp, skill, result, subagent = _transpose(_TOOL_CALL_FIELDS, calls)
    return [[org_id] * n, sid, tuid, ordinal, name, category, inp, skill, [r or "" for r in result],
            [None if r is None else len(r) for r in result], subagent, [months[s] for s in sid], [v] * n]


def _git_link_columns(org_id: str, links: Sequence[GitLink], months: dict[str, date], v: int, now: datetime
                      ) -> list[Any]:
    n = len(links)
    sid, user, ordinal, sha, pr, kind, confidence, detected = _transpose(_GIT_LINK_FIELDS, links)
    return [[org_id] * n, sid, user, ordinal, sha, pr, kind, confidence, [d or now for d in detected],
            [months[s] for s in sid], [v] * n]
