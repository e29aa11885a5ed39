"""ClickHouse schema of the agent-session store (migrations 1..99): sessions, messages, tool calls, git links, marks.

Layout, for every table:
- `ReplacingMergeTree(_version)`: a row re-sent with a higher `_version` replaces the stored one; reads use
  `FINAL`. The marks (stars, pins, session deletes) add an `is_deleted` column so an unstar is a newer row.
- `org_id` leads every ORDER BY, then `session_month`, then the row's natural key (session `id`; message
  `message_key` = `uuid` or `ord:<ordinal>`; tool call `tool_use_id`; git link (commit_sha, pr_url); marks
  (session, [ordinal,] user)).
- Partitioned by `toYYYYMM(session_month)`. `session_month` is the first day of the UTC month in which the store
  first saw the session (the month of its start when the first write carries it) and never changes afterwards:
  `session_buckets` records it at first sight and every later write of the session, or of its messages, tool calls,
  links and marks, reuses it. A partition key that never changes keeps each row's versions in one partition, so
  merges and `FINAL` collapse them, and a session expires together with everything about it. `session_month` is
  in the sorting key: `FINAL` then merges within a partition only (a partition with one part costs nothing), and a
  read of one session names its month, which narrows the primary-key search to that session's rows.
- TTL: a month's rows live until its last day is `ttl_days` old, with `ttl_only_drop_parts = 1` (whole monthly parts
  are dropped, no row-by-row rewrite). The default is 400 days, separate from the operational Store's retention;
  `apply_retention` changes it on existing tables.
- `non_replicated_deduplication_window`: an insert repeated with the same `insert_deduplication_token` (the writer
  derives it from the batch id) is dropped by the engine.
- Skip indexes: `ngrambf_v1` over the lower-cased text (message content; tool input and result) serve the
  case-insensitive substring search, CJK included (n-grams are of characters). They are the costliest part of an
  insert (about half its CPU) and are built by it all the same: a part without them (the engine can defer them to
  merges) is scanned in full by every search until it merges, and a bulk-loaded month may never merge again.
  Bloom filters serve lookups by tool-use id, commit SHA prefix and PR URL. Text columns keep the default LZ4
  codec: a search that scans decompresses it faster than ZSTD.
"""

from __future__ import annotations

from core.adapters.clickhouse.connection import Migration

DEFAULT_TTL_DAYS = 400
# Every table of this area, in creation order (retention and tests walk it).
TABLES = ("session_buckets", "sessions", "messages", "tool_calls", "git_links", "session_stars", "message_pins",
          "session_deletes")

# Text is searched by substring; smaller granules make the n-gram filters selective (fewer rows per filter).
_TEXT_GRANULARITY = 1024
_NGRAM = "ngrambf_v1(3, 32768, 2, 0)"
_UTC_MS = "DateTime64(3, 'UTC')"


def _ttl(ttl_days: int) -> str:
    # A month's rows expire once its last day is older than the retention.
    return f"TTL session_month + toIntervalMonth(1) + toIntervalDay({int(ttl_days)})"


def _settings(granularity: int = 8192) -> str:
    return (f"SETTINGS index_granularity = {granularity}, ttl_only_drop_parts = 1, "
            "non_replicated_deduplication_window = 1000")


def _table(name: str, columns: str, order_by: str, ttl_days: int, engine: str = "ReplacingMergeTree(_version)",
           granularity: int = 8192) -> str:
    return (f"CREATE TABLE IF NOT EXISTS {{db}}.{name} (\n{columns}\n) ENGINE = {engine}\n"
            f"PARTITION BY toYYYYMM(session_month)\nORDER BY ({order_by})\n{_ttl(ttl_days)}\n{_settings(granularity)}")


def migrations(ttl_days: int = DEFAULT_TTL_DAYS) -> list[Migration]:
    """The area's migrations; `ttl_days` is the retention a new table is created with."""
    if ttl_days < 1:
        raise ValueError("ttl_days must be at least 1")
    buckets = _table("session_buckets", """
    org_id String,
    session_id String,
    session_month Date""", "org_id, session_id", ttl_days, engine="ReplacingMergeTree")
    sessions = _table("sessions", f"""
    org_id String,
    id String,
    user_id String,
    user_name String,
    project_id String,
    project_name String,
    project_path String,
    machine String,
    agent_type LowCardinality(String),
    first_message String,
    started_at Nullable({_UTC_MS}),
    ended_at Nullable({_UTC_MS}),
    message_count UInt32,
    user_message_count UInt32,
    parent_session_id String,
    relationship_type LowCardinality(String),
    source_created_at String,
    display_name String,
    total_output_tokens UInt64,
    peak_context_tokens UInt64,
    session_month Date,
    _version UInt64,
    INDEX user_idx user_id TYPE bloom_filter GRANULARITY 1""", "org_id, session_month, id", ttl_days)
    messages = _table("messages", f"""
    org_id String,
    session_id String,
    message_key String,
    ordinal UInt32,
    uuid String,
    role LowCardinality(String),
    content String,
    timestamp Nullable({_UTC_MS}),
    has_thinking Bool,
    has_tool_use Bool,
    content_length UInt32 DEFAULT lengthUTF8(content),
    model LowCardinality(String),
    token_usage String,
    context_tokens UInt64,
    output_tokens UInt64,
    session_month Date,
    _version UInt64,
    INDEX content_ngrams lowerUTF8(content) TYPE {_NGRAM} GRANULARITY 1""",
                      "org_id, session_month, session_id, message_key", ttl_days, granularity=_TEXT_GRANULARITY)
    tool_calls = _table("tool_calls", f"""
    org_id String,
    session_id String,
    tool_use_id String,
    message_ordinal UInt32,
    tool_name LowCardinality(String),
    tool_category LowCardinality(String),
    input_json String,
    skill_name String,
    result_content String,
    result_content_length Nullable(UInt32),
    subagent_session_id String,
    session_month Date,
    _version UInt64,
    INDEX input_ngrams lowerUTF8(input_json) TYPE {_NGRAM} GRANULARITY 1,
    INDEX result_ngrams lowerUTF8(result_content) TYPE {_NGRAM} GRANULARITY 1,
    INDEX tool_use_idx tool_use_id TYPE bloom_filter GRANULARITY 1""",
                        "org_id, session_month, session_id, tool_use_id", ttl_days, granularity=_TEXT_GRANULARITY)
    git_links = _table("git_links", f"""
    org_id String,
    session_id String,
    user_id String,
    message_ordinal UInt32,
    commit_sha String,
    pr_url String,
    link_type LowCardinality(String),
    confidence LowCardinality(String),
    detected_at {_UTC_MS},
    session_month Date,
    _version UInt64,
    INDEX sha_prefix_idx substring(commit_sha, 1, 7) TYPE bloom_filter GRANULARITY 1,
    INDEX pr_idx pr_url TYPE bloom_filter GRANULARITY 1""", "org_id, session_month, session_id, commit_sha, pr_url",
                       ttl_days)
    marks = "ReplacingMergeTree(_version, is_deleted)"
    stars = _table("session_stars", f"""
    org_id String,
    session_id String,
    user_id String,
    created_at {_UTC_MS},
    is_deleted UInt8,
    session_month Date,
    _version UInt64""", "org_id, session_month, session_id, user_id", ttl_days, engine=marks)
    pins = _table("message_pins", f"""
    org_id String,
    session_id String,
    message_ordinal UInt32,
    user_id String,
    note String,
    created_at {_UTC_MS},
    is_deleted UInt8,
    session_month Date,
    _version UInt64""", "org_id, session_month, session_id, message_ordinal, user_id", ttl_days, engine=marks)
    deletes = _table("session_deletes", f"""
    org_id String,
    session_id String,
    user_id String,
    created_at {_UTC_MS},
    is_deleted UInt8,
    session_month Date,
    _version UInt64""", "org_id, session_month, session_id, user_id", ttl_days, engine=marks)
    return [
        Migration(1, "agent sessions: database, session buckets, sessions, messages, tool calls, git links",
                  ("CREATE DATABASE IF NOT EXISTS {db}", buckets, sessions, messages, tool_calls, git_links)),
        Migration(2, "agent sessions: stars, pins, session deletes", (stars, pins, deletes)),
    ]


MIGRATIONS = migrations()


def retention_statements(ttl_days: int) -> list[str]:
    """`ALTER TABLE ... MODIFY TTL` for every table of the area (`{db}` is the database placeholder)."""
    if ttl_days < 1:
        raise ValueError("ttl_days must be at least 1")
    return [f"ALTER TABLE {{db}}.{name} MODIFY {_ttl(ttl_days)}" for name in TABLES]
