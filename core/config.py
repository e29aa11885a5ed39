"""Runtime settings read once from the environment (every variable documented here)."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

# A plain dataclass, not pydantic-settings: importing pydantic-settings costs ~235 ms, which every
# function's cold start would pay; the ingest hot path imports this module.

DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024  # the Cloud Functions gen2 request cap


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
    bus_drainer: str = "thread"
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
        return cls(
            data_dir=Path(env.get("OBSERVATORY_DATA_DIR") or ".observatory"),
            max_body_bytes=_int(env, "OBSERVATORY_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
            api_keys=env.get("OBSERVATORY_API_KEYS", ""),
            api_keys_file=env.get("OBSERVATORY_API_KEYS_FILE", ""),
            price_overrides=env.get("OBSERVATORY_PRICE_OVERRIDES", ""),
            llm_join_window_s=float(env.get("OBSERVATORY_LLM_JOIN_WINDOW_S") or 120.0),
            retry_after_s=_int(env, "OBSERVATORY_RETRY_AFTER_S", 5),
            bus_poll_s=float(env.get("OBSERVATORY_BUS_POLL_S") or 0.5),
            cors_origins=tuple(o.strip() for o in env.get("OBSERVATORY_CORS_ORIGINS", "").split(",") if o.strip()),
            store=_choice(env, "OBSERVATORY_STORE", ("sqlite", "firestore")),
            firestore_database=env.get("OBSERVATORY_FIRESTORE_DATABASE") or "(default)",
            bus=_choice(env, "OBSERVATORY_BUS", ("local", "pubsub")),
            gcp_project=env.get("OBSERVATORY_GCP_PROJECT") or env.get("GOOGLE_CLOUD_PROJECT") or "",
            publish_timeout_s=float(env.get("OBSERVATORY_PUBLISH_TIMEOUT_S") or 30.0),
            clickhouse_url="" if env.get("OBSERVATORY_CLICKHOUSE_URL", "").lower() == "off"
            else env.get("OBSERVATORY_CLICKHOUSE_URL", ""),
            analytics_ttl_days=_int(env, "OBSERVATORY_ANALYTICS_TTL_DAYS", 400),
            analytics_host_url=env.get("OBSERVATORY_ANALYTICS_HOST_URL", ""),
            event_settle_s=float(env.get("OBSERVATORY_EVENT_SETTLE_S") or 2.0),
            insights=_choice(env, "OBSERVATORY_INSIGHTS", ("auto", "store", "analytics")),
            bus_drainer=_choice(env, "OBSERVATORY_BUS_DRAINER", ("thread", "external")),
        )


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return value


def _choice(env: dict[str, str], name: str, allowed: tuple[str, ...]) -> str:
    raw = env.get(name) or allowed[0]
    if raw not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {raw!r}")
    return raw


@functools.cache
def get_settings() -> Settings:
    return Settings.from_env()
