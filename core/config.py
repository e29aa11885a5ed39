"""Runtime settings read once from the environment (every variable documented here)."""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

# A plain dataclass, not pydantic-settings: importing pydantic-settings costs ~235 ms, which every
# function's cold start would pay; the ingest hot path imports this module.

DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024  # the Cloud Functions gen2 request cap


@dataclass(frozen=True)
class TraceArchiveConfig:
    """One remote trace archive of OBSERVATORY_TRACE_ARCHIVES: its kind, the one org that sees it, its address."""

    kind: str  # gcp | jaeger
    org: str
    name: str
    project: str = ""  # gcp
    endpoint: str = ""  # gcp: host:port instead of the public API
    insecure: bool = False  # gcp: plain-text gRPC to `endpoint`
    url: str = ""  # jaeger: base URL of the query service
    service: str = ""  # jaeger: the service searched
    timeout_s: float = 5.0


_ARCHIVE_KEYS = {"gcp": {"project", "endpoint", "insecure"}, "jaeger": {"url", "service"}}


def parse_trace_archives(raw: str) -> tuple[TraceArchiveConfig, ...]:
    """OBSERVATORY_TRACE_ARCHIVES, checked at startup: every error names the entry and the key."""
    if not raw.strip():
        return ()
    var = "OBSERVATORY_TRACE_ARCHIVES"
    try:
        entries = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"{var} is not valid JSON: {exc}") from exc
    if not isinstance(entries, list):
        raise ValueError(f"{var} must be a JSON list of objects")
    out: list[TraceArchiveConfig] = []
    for i, entry in enumerate(entries):
        where = f"{var}[{i}]"
        if not isinstance(entry, dict):
            raise ValueError(f"{where} must be an object")
        kind = entry.get("kind")
        if kind not in _ARCHIVE_KEYS:
            raise ValueError(f"{where}.kind must be one of gcp, jaeger, got {kind!r}")
        unknown = set(entry) - {"kind", "org", "name", "timeout_s"} - _ARCHIVE_KEYS[kind]
        if unknown:
            raise ValueError(f"{where}: unknown key(s) for kind {kind}: {', '.join(sorted(unknown))}")

        def text(key: str, required: bool, entry: dict[str, Any] = entry, where: str = where) -> str:
            value = entry.get(key, "")
            if not isinstance(value, str) or (required and not value.strip()):
                raise ValueError(f"{where}.{key} must be a non-empty string")
            return value.strip()

        org = text("org", True)
        timeout = entry.get("timeout_s", 5.0)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ValueError(f"{where}.timeout_s must be a positive number")
        if kind == "gcp":
            insecure = entry.get("insecure", False)
            if not isinstance(insecure, bool):
                raise ValueError(f"{where}.insecure must be true or false")
            endpoint = text("endpoint", insecure)
            project = text("project", True)
            name = text("name", False) or f"gcp:{project}"
            out.append(TraceArchiveConfig("gcp", org, name, project=project, endpoint=endpoint, insecure=insecure,
                                          timeout_s=float(timeout)))
        else:
            url = text("url", True)
            parsed = urlparse(url)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise ValueError(f"{where}.url must be an http(s) URL, got {url!r}")
            service = text("service", True)
            name = text("name", False) or f"jaeger:{service}@{parsed.netloc}"
            out.append(TraceArchiveConfig("jaeger", org, name, url=url, service=service, timeout_s=float(timeout)))
    names = [a.name for a in out]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{var}: duplicate name(s) {', '.join(duplicates)}")
    return tuple(out)


@dataclass(frozen=True)
class Settings:
    """Every knob of the product.

    Environment variables:
      OBSERVATORY_DATA_DIR        local data directory (SQLite file lives here); default `.observatory`
      OBSERVATORY_MAX_BODY_BYTES  OTLP body limit after decompression; default 32 MiB
      OBSERVATORY_API_KEYS        API keys as JSON (see core/auth.py); empty = auth off, org `default`
      OBSERVATORY_API_KEYS_FILE   path of a file holding the same JSON (wins over the variable)
      OBSERVATORY_PRICE_OVERRIDES path of a JSON price file extending/correcting the shipped table
      OBSERVATORY_LLM_JOIN_WINDOW_S  seconds within which an event and a span of one LLM call are joined
      OBSERVATORY_RETRY_AFTER_S   Retry-After seconds sent with 503; default 5
      OBSERVATORY_BUS_POLL_S      local outbox drain interval; default 0.5
      OBSERVATORY_EXPORT_DEFER_S  `observatory worker`: the longest the analytics export of a delivery waits for
                                  a pause in the store's writes (0: never waits); default 5
      OBSERVATORY_INGEST_CONCURRENCY  OTLP requests one process decodes, normalises and stores at once (bodies
                                  are read beside them; the rest wait their turn); 0 = no limit. Default 1 with
                                  the SQLite store and the local bus, where that work is CPU under one GIL and
                                  interleaving requests only makes each finish later (bench/ingest.py); else 0,
                                  since Firestore and Pub/Sub writes wait on the network
      OBSERVATORY_STORE           `sqlite` (default; the file under the data dir) or `firestore` (project
                                  OBSERVATORY_GCP_PROJECT, database OBSERVATORY_FIRESTORE_DATABASE, default
                                  `(default)`; FIRESTORE_EMULATOR_HOST points the client at the emulator)
      OBSERVATORY_BUS             `local` (default: the store's outbox, drained in-process or by `observatory worker`)
                                  or `pubsub` (ingest relays each stored batch to Pub/Sub; workers are pushed)
      OBSERVATORY_GCP_PROJECT     project of the Pub/Sub topics (else GOOGLE_CLOUD_PROJECT)
      OBSERVATORY_PUBLISH_TIMEOUT_S  seconds a publish may take before ingest answers 503; default 30
      OBSERVATORY_CLICKHOUSE_URL  the analytics store: `http(s)://user:password@host:port/database` (a server) or
                                  `chdb:///path` (embedded; `observatory serve` defaults to `<data dir>/clickhouse`);
                                  empty or `off` = exports are dropped with a log line each, /api/v1 answers 503
      OBSERVATORY_INSIGHTS        where the breakdowns, heatmap and summary aggregate: `store`, `analytics`, or `auto`
                                  (default: analytics when the Store is Firestore and analytics is configured, so
                                  a cloud deployment never aggregates in Firestore; else the Store, since exact
                                  aggregates over SQLite's covering indexes answer faster than deduplicating
                                  ClickHouse reads at the local scale: bench/query.py and bench/analytics.py)
      OBSERVATORY_ANALYTICS_TTL_DAYS  how long analytics rows are kept; default 400 (separate from the Store's)
      OBSERVATORY_ANALYTICS_HOST_URL  set by `observatory serve` for its HTTP processes: embedded ClickHouse opens
                                  in one process only, so requests of the analytics functions are forwarded there
      OBSERVATORY_EVENT_SETTLE_S  Firestore: how far behind now event-log readers stop (event numbers follow the
                                  clock, not commit order; core/adapters/firestore/event_log.py); default 2
      OBSERVATORY_CORS_ORIGINS    comma-separated origins allowed to call the JSON API from a browser; none by
                                  default (`*` allows any)
      OBSERVATORY_BUS_DRAINER     `thread` (default): the serving process drains the outbox itself;
                                  `external`: another process does (`observatory serve` starts `observatory worker`)
      OBSERVATORY_TRACE_ARCHIVES  remote trace stores merged into the trace reads, as a JSON list; each belongs to
                                  the one org it names (no other org sees its traces). Keys: `kind` (`gcp` |
                                  `jaeger`), `org`, optional `name` (used in warnings; unique) and `timeout_s`
                                  (default 5); gcp: `project`, optional `endpoint` (host:port) and `insecure`
                                  (plain-text gRPC to it); jaeger: `url` (the query service, e.g.
                                  http://jaeger:16686) and `service`. Example:
                                  [{"kind": "gcp", "org": "acme", "project": "p"}, {"kind": "jaeger", "org": "acme",
                                  "url": "http://jaeger:16686", "service": "claude-code"}]. None by default.
      OBSERVATORY_TRACE_CACHE_S   seconds a remote archive's answer is reused (protects its quota); default 60
    The span filter reads OBSERVATORY_SPAN_FILTER_ALLOW|DENY|DISABLE (core/span_filter.py); retention reads
    OBSERVATORY_RETENTION_{SPANS,METRIC_POINTS,EVENTS,EVENT_LOG,SESSIONS,LLM_CALLS,TOOL_CALLS,MESSAGES}_DAYS
    (defaults 30/30/30/=EVENTS/90/90/90/90; 0 keeps forever) and OBSERVATORY_RETENTION_CHUNK (core/retention.py).
    """

    data_dir: Path = Path(".observatory")
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    api_keys: str = ""
    api_keys_file: str = ""
    price_overrides: str = ""
    llm_join_window_s: float = 120.0
    retry_after_s: int = 5
    bus_poll_s: float = 0.5
    export_defer_s: float = 5.0
    bus_drainer: str = "thread"
    ingest_concurrency: int = 1
    cors_origins: tuple[str, ...] = ()
    store: str = "sqlite"
    firestore_database: str = "(default)"
    bus: str = "local"
    gcp_project: str = ""
    publish_timeout_s: float = 30.0
    clickhouse_url: str = ""
    analytics_ttl_days: int = 400
    analytics_host_url: str = ""
    event_settle_s: float = 2.0
    insights: str = "auto"
    trace_archives: tuple[TraceArchiveConfig, ...] = ()
    trace_cache_s: float = 60.0

    @property
    def insights_on_analytics(self) -> bool:
        """Whether the insights API aggregates over the analytics history (see OBSERVATORY_INSIGHTS)."""
        if not self.clickhouse_url or self.insights == "store":
            return False
        return self.insights == "analytics" or self.store == "firestore"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "observatory.db"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        store = _choice(env, "OBSERVATORY_STORE", ("sqlite", "firestore"))
        bus = _choice(env, "OBSERVATORY_BUS", ("local", "pubsub"))
        return cls(
            data_dir=Path(env.get("OBSERVATORY_DATA_DIR") or ".observatory"),
            max_body_bytes=_int(env, "OBSERVATORY_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
            api_keys=env.get("OBSERVATORY_API_KEYS", ""),
            api_keys_file=env.get("OBSERVATORY_API_KEYS_FILE", ""),
            price_overrides=env.get("OBSERVATORY_PRICE_OVERRIDES", ""),
            llm_join_window_s=float(env.get("OBSERVATORY_LLM_JOIN_WINDOW_S") or 120.0),
            retry_after_s=_int(env, "OBSERVATORY_RETRY_AFTER_S", 5),
            bus_poll_s=float(env.get("OBSERVATORY_BUS_POLL_S") or 0.5),
            export_defer_s=float(env.get("OBSERVATORY_EXPORT_DEFER_S") or 5.0),
            cors_origins=tuple(o.strip() for o in env.get("OBSERVATORY_CORS_ORIGINS", "").split(",") if o.strip()),
            store=store,
            firestore_database=env.get("OBSERVATORY_FIRESTORE_DATABASE") or "(default)",
            bus=bus,
            gcp_project=env.get("OBSERVATORY_GCP_PROJECT") or env.get("GOOGLE_CLOUD_PROJECT") or "",
            publish_timeout_s=float(env.get("OBSERVATORY_PUBLISH_TIMEOUT_S") or 30.0),
            clickhouse_url="" if env.get("OBSERVATORY_CLICKHOUSE_URL", "").lower() == "off"
            else env.get("OBSERVATORY_CLICKHOUSE_URL", ""),
            analytics_ttl_days=_int(env, "OBSERVATORY_ANALYTICS_TTL_DAYS", 400),
            analytics_host_url=env.get("OBSERVATORY_ANALYTICS_HOST_URL", ""),
            event_settle_s=float(env.get("OBSERVATORY_EVENT_SETTLE_S") or 2.0),
            insights=_choice(env, "OBSERVATORY_INSIGHTS", ("auto", "store", "analytics")),
            bus_drainer=_choice(env, "OBSERVATORY_BUS_DRAINER", ("thread", "external")),
            ingest_concurrency=_int(env, "OBSERVATORY_INGEST_CONCURRENCY",
                                    1 if store == "sqlite" and bus == "local" else 0, allow_zero=True),
            trace_archives=parse_trace_archives(env.get("OBSERVATORY_TRACE_ARCHIVES", "")),
            trace_cache_s=_seconds(env, "OBSERVATORY_TRACE_CACHE_S", 60.0),
        )


def _int(env: dict[str, str], name: str, default: int, allow_zero: bool = False) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'zero or ' if allow_zero else ''}positive, got {value}")
    return value


def _seconds(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from exc
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    return value


def _choice(env: dict[str, str], name: str, allowed: tuple[str, ...]) -> str:
    raw = env.get(name) or allowed[0]
    if raw not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {raw!r}")
    return raw


@functools.cache
def get_settings() -> Settings:
    return Settings.from_env()
