"""What the agent-session adapter's parts share: the client calls (parameters bound server-side, a lock only when the
client cannot run calls concurrently), time conversion, the browsable-session filter, and each session's months
(`session_month`, see session_schema) from the registry."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from core.adapters.clickhouse.connection import AnalyticsConnection
from core.adapters.clickhouse.session_schema import DEFAULT_TTL_DAYS
from core.agent_sessions.views import AnalyticsFilter, SearchQuery, SessionFilter
from core.errors import StorageUnavailable

UTC_MS = "DateTime64(3, 'UTC')"
_FACETS = ("user_id", "project_id", "project_name", "agent_type")
_LOOKUP_CHUNK = 500  # session ids per registry lookup (parameters travel in the URL over HTTP)
_MONTH_CACHE_MAX = 200_000


def month_of(day: date) -> date:
    return day.replace(day=1)


def utc(value: datetime | None) -> datetime | None:
    """A stored time as an aware UTC datetime (the client hands back naive UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class SessionSql:
    """The connection and the query helpers of the agent-session adapter.

    Concurrency: an embedded (chdb) client serialises calls on its handle itself, so threads may share it. An HTTP
    client that carries a session id (clickhouse-connect's default) is refused concurrent queries by the server, so
    calls then go one at a time through a lock."""

    def __init__(self, conn: AnalyticsConnection, ttl_days: int = DEFAULT_TTL_DAYS,
                 clock: Callable[[], float] = time.time) -> None:
        if ttl_days < 1:
            raise ValueError("ttl_days must be at least 1")
        self._conn = conn
        self._db = conn.database
        self._ttl_days = ttl_days
        self._clock = clock
        client = conn.client
        shared_session = bool(client.get_client_setting("session_id"))
        self._guard: AbstractContextManager[Any] = threading.Lock() if shared_session else nullcontext()
        # (org, session) -> its registered months, oldest first (one, unless two writers raced on a new session)
        self._months: dict[tuple[str, str], tuple[date, ...]] = {}
        self._months_lock = threading.Lock()

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), tz=UTC)

    def _oldest_live_month(self) -> date:
        """The first month whose rows the retention still keeps (older months are dropped or about to be)."""
        return month_of(self._now().date() - timedelta(days=self._ttl_days))

    def _session_months(self, org_id: str, session_ids: Iterable[str], cached: bool = True
                        ) -> dict[str, tuple[date, ...]]:
        """The months registered for these sessions (live ones only; a session with none is absent): from this
        process's cache, else from `session_buckets`."""
        cutoff = self._oldest_live_month()
        found: dict[str, tuple[date, ...]] = {}
        missing: list[str] = []
        for sid in dict.fromkeys(session_ids):
            months = tuple(m for m in self._months.get((org_id, sid), ()) if m >= cutoff) if cached else ()
            if months:
                found[sid] = months
            else:
                missing.append(sid)
        for lo in range(0, len(missing), _LOOKUP_CHUNK):
            rows = self._rows(
                "SELECT session_id, arraySort(groupUniqArray(session_month)) FROM {db}.session_buckets "
                "WHERE org_id = {org:String} AND session_id IN {ids:Array(String)} AND session_month >= {cutoff:Date} "
                "GROUP BY session_id", {"org": org_id, "ids": missing[lo:lo + _LOOKUP_CHUNK], "cutoff": cutoff})
            found.update((sid, tuple(months)) for sid, months in rows)
        if missing:
            with self._months_lock:
                if len(self._months) + len(missing) > _MONTH_CACHE_MAX:
                    self._months.clear()
                self._months.update(((org_id, sid), found[sid]) for sid in missing if sid in found)
        return found

    def _sql(self, sql: str) -> str:
        return sql.replace("{db}", f"`{self._db}`")

    @contextmanager
    def _call(self) -> Iterator[None]:
        try:
            with self._guard:
                yield
        except Exception as exc:
            if _is_connection_error(exc):
                raise StorageUnavailable(f"ClickHouse unavailable: {type(exc).__name__}") from exc
            raise

    def _rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        with self._call():
            rows: list[tuple[Any, ...]] = self._conn.client.query(self._sql(sql), parameters=params or {}).result_rows
        return rows

    def _command(self, sql: str, params: dict[str, Any] | None = None) -> None:
        with self._call():
            self._conn.client.command(self._sql(sql), parameters=params or None)

    def _insert(self, table: str, columns: list[str], data: list[list[Any]], settings: dict[str, Any]) -> None:
        """Insert column-oriented `data` (one list per column) into `table` of this database.

        The rows travel as one JSONCompactColumns document that orjson writes in C: cheaper than building the
        Native format value by value in Python. Times are RFC 3339 with an offset (hence best-effort parsing)."""
        self._insert_body(table, columns, orjson.dumps(data), settings)

    def _insert_body(self, table: str, columns: list[str], body: bytes, settings: dict[str, Any]) -> None:
        """Insert a JSONCompactColumns document (`orjson.dumps` of the column lists)."""
        with self._call():
            self._conn.client.raw_insert(f"{self._db}.{table}", columns, body, fmt="JSONCompactColumns",
                                         settings={"date_time_input_format": "best_effort", **settings})

    @staticmethod
    def _browsable(org_id: str, query: SessionFilter | SearchQuery | AnalyticsFilter | None, alias: str = "s",
                   include_subagents: bool = False) -> tuple[str, dict[str, Any]]:
        """The WHERE conditions of browsable sessions of the org matching the query's facets and date range."""
        a = alias
        conds = [f"{a}.org_id = {{org:String}}", f"{a}.user_message_count > 0"]
        params: dict[str, Any] = {"org": org_id}
        if not include_subagents:
            conds.append(f"{a}.parent_session_id = ''")
        if query is not None:
            for name in _FACETS:
                value = getattr(query, name, None)
                if value is not None:
                    conds.append(f"{a}.{name} = {{{name}:String}}")
                    params[name] = value
            start, end = query.window()
            if start is not None:
                conds.append(f"{a}.started_at >= {{range_start:{UTC_MS}}}")
                params["range_start"] = start
            if end is not None:
                conds.append(f"{a}.started_at < {{range_end:{UTC_MS}}}")
                params["range_end"] = end
        return " AND ".join(conds), params


def _is_connection_error(exc: Exception) -> bool:
    """Connection-level failures (retry later) as opposed to defects such as a bad query."""
    from clickhouse_connect.driver.exceptions import OperationalError  # lazy: an optional extra

    return isinstance(exc, OperationalError)
