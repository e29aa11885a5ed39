"""Opening a ClickHouse client from a DSN and applying versioned schema migrations (idempotent, database included).

DSNs: `http(s)://user:password@host:port/database` for a server, `chdb:///path/to/dir` (database `observatory`,
or `?database=name`) for the embedded engine. Embedded chdb allows one engine (one data directory) per process:
clients on the same directory share it, a second directory fails; tests therefore use one directory per test
process and a database per test.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from core.errors import StorageUnavailable
from core.thread_pool import LazyPool

log = logging.getLogger(__name__)

DEFAULT_DATABASE = "observatory"
# Inserts of fewer rows (one Pub/Sub message's worth) go as async inserts the server waits to flush
# (`async_insert=1, wait_for_async_insert=1`): many small writers then make few parts.
ASYNC_BELOW = 1_000

_WORKER = threading.local()
T = TypeVar("T")


def _mark_worker_thread() -> None:
    _WORKER.marked = True


class WorkerPool(LazyPool):
    """A LazyPool whose threads each get an embedded-engine handle of their own (AnalyticsConnection.client):
    statements submitted together run side by side on the cores."""

    def __init__(self, name: str, workers: int) -> None:
        super().__init__(name, workers, initializer=_mark_worker_thread)

    def run(self, calls: Sequence[Callable[[], T]]) -> list[T]:
        """The results of ``calls``, run side by side (in order; the first failure is raised)."""
        if len(calls) <= 1:
            return [call() for call in calls]
        return [future.result() for future in [self.submit(call) for call in calls]]


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: `version` unique across areas (each area keeps its own range), statements run in order.
    Every statement must be idempotent (`IF NOT EXISTS`), because a crash may stop a migration halfway."""

    version: int
    description: str
    statements: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Dsn:
    kind: str  # "chdb" or "http"
    database: str
    path: str = ""  # chdb data directory
    host: str = ""
    port: int = 0
    username: str = "default"
    password: str = ""
    secure: bool = False


def parse_dsn(dsn: str) -> Dsn:
    """Split an OBSERVATORY_CLICKHOUSE_URL value; ValueError names what is wrong (never echoes the password)."""
    parts = urlsplit(dsn)
    if parts.scheme == "chdb":
        path = unquote(parts.path)
        if not path:
            raise ValueError("a chdb DSN needs a data directory: chdb:///path/to/dir")
        database = parse_qs(parts.query).get("database", [DEFAULT_DATABASE])[0]
        return Dsn("chdb", _identifier(database), path=path)
    if parts.scheme in ("http", "https", "clickhouse", "clickhouses"):
        secure = parts.scheme in ("https", "clickhouses")
        if not parts.hostname:
            raise ValueError(f"a ClickHouse DSN needs a host: {parts.scheme}://host:port/database")
        return Dsn("http", _identifier(parts.path.strip("/") or DEFAULT_DATABASE), host=parts.hostname,
                   port=parts.port or (8443 if secure else 8123), username=unquote(parts.username or "default"),
                   password=unquote(parts.password or ""), secure=secure)
    raise ValueError(f"unsupported ClickHouse DSN scheme {parts.scheme!r}: use chdb:///path or http(s)://host:port/db")


def _identifier(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"ClickHouse database name {name!r} must be letters, digits and underscores")
    return name


class AnalyticsConnection:
    """One clickhouse-connect client bound to the analytics database, plus the migration runner."""

    def __init__(self, dsn: str) -> None:
        self.dsn = parse_dsn(dsn)
        self.database = self.dsn.database
        self._client = self._open()
        self._lock = threading.Lock()
        self._handles: dict[int, Any] = {}  # thread id -> the embedded engine's handle of a worker thread
        self._handles_lock = threading.Lock()

    def _open(self) -> Any:
        try:
            import clickhouse_connect  # lazy: an optional extra, never paid for by a cold start without analytics
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError("analytics needs the clickhouse extra: pip install 'observatory[clickhouse]'") from exc
        d = self.dsn
        try:
            if d.kind == "chdb":
                client = clickhouse_connect.get_client(dsn=f"chdb://{d.path}")
            else:
                # Connect to `default` first: a hosted server rejects a handshake naming a database that does not
                # exist yet (the seed does the same).
                # No session id: a server refuses concurrent queries in one session, and the adapters share the
                # client across threads.
                client = clickhouse_connect.get_client(host=d.host, port=d.port, username=d.username,
                                                       password=d.password, secure=d.secure, database="default",
                                                       autogenerate_session_id=False)
            client.command(f"CREATE DATABASE IF NOT EXISTS `{d.database}`")
        except Exception as exc:
            raise StorageUnavailable(f"cannot open ClickHouse ({d.kind}): {type(exc).__name__}") from exc
        return client

    @property
    def client(self) -> Any:
        """The client for the calling thread. The embedded engine runs one statement per handle at a time, so a
        WorkerPool's thread gets a handle of its own on the same data: the export's inserts and a
        read's independent statements then run side by side on the cores. A server's client is shared by all
        threads (its HTTP pool already runs requests side by side)."""
        if self.dsn.kind != "chdb" or not getattr(_WORKER, "marked", False):
            return self._client
        key = threading.get_ident()
        client = self._handles.get(key)
        if client is None:
            client = self._open()
            with self._handles_lock:
                self._handles[key] = client
        return client

    def migrate(self, migrations: list[Migration]) -> list[int]:
        """Apply the migrations not yet recorded in `schema_version`; returns the versions applied now."""
        versions = [m.version for m in migrations]
        if len(set(versions)) != len(versions):
            raise ValueError(f"duplicate migration versions: {sorted(versions)}")
        db = self.database
        with self._lock:
            self._client.command(
                f"CREATE TABLE IF NOT EXISTS `{db}`.schema_version (version UInt32, description String, "
                "applied_at DateTime64(3) DEFAULT now64(3)) ENGINE = ReplacingMergeTree ORDER BY version")
            rows = self._client.query(f"SELECT version FROM `{db}`.schema_version FINAL").result_rows
            done = {int(r[0]) for r in rows}
            applied: list[int] = []
            for m in sorted(migrations, key=lambda m: m.version):
                if m.version in done:
                    continue
                for statement in m.statements:
                    self._client.command(statement.replace("{db}", f"`{db}`"))
                self._client.insert(f"{db}.schema_version", [[m.version, m.description]],
                                    column_names=["version", "description"])
                applied.append(m.version)
                log.info("analytics schema: applied %d (%s)", m.version, m.description)
            return applied

    def close(self) -> None:
        with self._handles_lock:
            handles, self._handles = list(self._handles.values()), {}
        for client in handles:
            client.close()
        self._client.close()
