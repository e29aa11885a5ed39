"""ClickHouse schema of the telemetry history (migrations 100..199): spans, events, LLM calls, tool calls, metric
points, session sightings and session rollups, as the export and aggregate workers write them.

Layout:
- `org_id` leads every ORDER BY; each table is keyed by the record's natural key (span (trace_id, span_id), event
  `event_key`, LLM call `call_key`, tool call `tool_use_id`, metric point (series_key, start_ns, time_ns), session
  `session_id`).
- Facts that never change (spans, events, metric points) are `ReplacingMergeTree(version)` sorted by their own
  time before the natural key: the time is part of the record (a replayed span has the same start), so a replay
  lands on the same sorting key and collapses, and a time range reads a contiguous slice. They are partitioned
  by the month of that time, which never changes for a row.
- Rows that a later signal rewrites cannot use their own time: an LLM call reported by a span and then by its
  `api_request` event takes the event's time, and a tool call's time arrives with its result, after a decision
  event without one. These tables are sorted by the natural key alone and partitioned by the month of `version`,
  the time the row was written (the batch's ingest time): a row never moves, a rewrite is a new row in the
  partition of its own write, and reads resolve the versions of a key across partitions (`FINAL`, whose merge
  spans partitions by default, or `GROUP BY` the key). Older versions live in older or equal partitions and
  expire first, so a TTL can never bring a superseded version back. A record is written at or after the time it
  reports (clocks within a day), which lets reads skip every partition written before the window.
  - `telemetry_llm_calls` (`ReplacingMergeTree(version)`): every write carries the whole joined call; the
    newest wins.
  - `telemetry_tool_calls` (`AggregatingMergeTree`): sources fill different fields of one call, and a field is
    only ever filled, never cleared. Each field is a `(version, value)` tuple merged by `max` (an absent value is
    written with version 0, so the newest present value wins) and `time_ns` by `min` (the start: a hook or span
    sees it before the result event). Three numbers carry what the insights read, cheaper to merge than tuples:
    `named` (some source reported a name or an outcome: a call rather than a placeholder), `outcome`
    (`version * 2 + success` of the newest outcome, 0 for none) and `live` (`version * 2 + 1`, or `+ 0` for a
    write that retires a span placeholder key adopted by its real tool id).
  - `telemetry_sessions` (`AggregatingMergeTree`): one sighting row per batch and session, merged like the
    Store's session upsert: `min` first seen, `max` last seen, the first value present of each property
    (`(version, value)` tuples merged by `min`, an absent value written with the largest version; for the source
    type, `other` counts as absent), the union of models.
  - `telemetry_session_rollups` (`ReplacingMergeTree(computed_ns)`): the newest recompute of a session wins.
  - `telemetry_erasures` (`ReplacingMergeTree(erased_ns)`): the sessions erased, and when. An erasure deletes the
    session's rows (lightweight DELETE); an export of records stored before it (a late or redelivered message)
    then writes none of that session's records.
  Writers insert plain rows (a value or NULL, one version per row) into `telemetry_tool_call_writes` and
  `telemetry_session_writes` (`Null` engine): a materialized view of each encodes them into the tuples above, so
  the encoding lives here and the client sends cheap columns.
- The insights' slot sums (migration 102, computed by core/adapters/clickhouse/slot_sums.py): one row per org and
  15-minute slot in each of `telemetry_call_slots`, `telemetry_span_slots`, `telemetry_tool_slots` and
  `telemetry_error_slots` (`ReplacingMergeTree(computed_ns)`: a recompute replaces the slot), the marks of the slots
  writes touched (`telemetry_slot_marks`, `max` of the mark time), and time-sorted copies of the two tables sorted
  by key, filled by materialized views on their writes: `telemetry_call_times` (every version of each LLM call,
  with the columns the insights read) and `telemetry_tool_times` (every sighting of each tool call, filed under its
  time, or its write when it has none). The calls of a few slots, and the slots a rewritten call was counted in
  before, are then short primary-key ranges rather than a merge of the whole table.
- `TTL` of `ttl_days` (default 400, separate from the operational Store's) on the row's time (facts) or write time
  (rewritable rows), with `ttl_only_drop_parts = 1`: whole monthly parts are dropped.
- `non_replicated_deduplication_window`: an insert repeated with the same `insert_deduplication_token` (derived
  from the batch) is dropped by the engine, so a redelivered export writes nothing. Inserts of fewer than
  `ASYNC_BELOW` rows (one Pub/Sub message's) go as async inserts the server coalesces; a server deduplicates those
  only on replicated tables, so elsewhere a redelivered one may land twice, which every table absorbs anyway (the
  same key and version collapse, and the merged fields are idempotent).
- Skip indexes: bloom filters on session_id and trace_id of spans, events and LLM calls, on session_id of metric
  points and sessions (lookups of a session's or a trace's records). Tool calls, sorted by their id, have none:
  hashing their tuple elements on every insert doubled its cost.
"""

from __future__ import annotations

from datetime import UTC, datetime

from core.adapters.clickhouse.connection import AnalyticsConnection, Migration

DEFAULT_TTL_DAYS = 400
# The slack the layout relies on (module docstring): the sightings of one call lie within it of each other, and a
# record is written no earlier than this before the time it reports.
SLACK_NS = 86_400 * 10**9

SPANS = "telemetry_spans"
EVENTS = "telemetry_events"
LLM_CALLS = "telemetry_llm_calls"
TOOL_CALLS = "telemetry_tool_calls"
METRIC_POINTS = "telemetry_metric_points"
SESSIONS = "telemetry_sessions"
SESSION_ROLLUPS = "telemetry_session_rollups"
ERASURES = "telemetry_erasures"
# The insights' slot sums (core/adapters/clickhouse/slot_sums.py) and the marks of the slots writes touched.
CALL_SLOTS = "telemetry_call_slots"
SPAN_SLOTS = "telemetry_span_slots"
TOOL_SLOTS = "telemetry_tool_slots"
ERROR_SLOTS = "telemetry_error_slots"
SLOT_MARKS = "telemetry_slot_marks"
# Every version of each LLM call and every sighting of each tool call, sorted by its time (a shadow of the two
# tables sorted by key): the calls of a time range, and every slot a rewritten call was counted in before.
CALL_TIMES = "telemetry_call_times"
TOOL_TIMES = "telemetry_tool_times"
SLOT_TABLES = (CALL_SLOTS, SPAN_SLOTS, TOOL_SLOTS, ERROR_SLOTS, SLOT_MARKS, CALL_TIMES, TOOL_TIMES)
# Migration 100 created these; ERASURES came with 101, the slot tables with 102. Every table: HISTORY_TABLES.
TABLES = (SPANS, EVENTS, LLM_CALLS, TOOL_CALLS, METRIC_POINTS, SESSIONS, SESSION_ROLLUPS)
HISTORY_TABLES = (*TABLES, ERASURES, *SLOT_TABLES)
# Where writers insert tool calls and session sightings (plain columns; see the module docstring).
TOOL_CALL_WRITES = "telemetry_tool_call_writes"
SESSION_WRITES = "telemetry_session_writes"

# `(version, value)` tuples: a tool-call field absent from a write has version 0 (max merge: any present value
# wins); a session property absent from a sighting has the largest version (min merge: any present value wins).
ABSENT_LOW = 0
ABSENT_HIGH = 2**64 - 1

_NS = 1_000_000_000
_BLOOM = "TYPE bloom_filter(0.01) GRANULARITY 1"


def _seconds(column: str) -> str:
    # UTC explicitly: partition ids (YYYYMM) must not depend on the server's zone (reads name them).
    return f"toDateTime(intDiv({column}, {_NS}), 'UTC')"


def partition_id(ns: int) -> str:
    """The id (UTC YYYYMM) of the partition a time falls in, as the tables compute it."""
    return datetime.fromtimestamp(max(ns, 0) // _NS, UTC).strftime("%Y%m")


def _ttl_clause(column: str, ttl_days: int) -> str:
    return f"{_seconds(column)} + toIntervalDay({int(ttl_days)})"


# The column each table's partition and TTL are computed from: the row's own time, or its write time.
TTL_COLUMNS = {SPANS: "start_ns", EVENTS: "time_ns", METRIC_POINTS: "time_ns", LLM_CALLS: "version",
               TOOL_CALLS: "version", SESSIONS: "version", SESSION_ROLLUPS: "computed_ns", ERASURES: "erased_ns",
               **dict.fromkeys(SLOT_TABLES, "slot_ns"), CALL_TIMES: "at_ns", TOOL_TIMES: "at_ns"}

_ORDER = {
    SPANS: "org_id, start_ns, trace_id, span_id",
    EVENTS: "org_id, name, time_ns, event_key",
    METRIC_POINTS: "org_id, name, time_ns, series_key, start_ns",
    LLM_CALLS: "org_id, call_key",
    TOOL_CALLS: "org_id, tool_use_id",
    SESSIONS: "org_id, session_id",
    SESSION_ROLLUPS: "org_id, session_id",
    ERASURES: "org_id, session_id",
    **dict.fromkeys((CALL_SLOTS, SPAN_SLOTS, TOOL_SLOTS, ERROR_SLOTS), "org_id, slot_ns"),
    SLOT_MARKS: "org_id, family, slot_ns",
    CALL_TIMES: "org_id, at_ns, call_key",
    TOOL_TIMES: "org_id, at_ns, tool_use_id",
}

_ENGINES = {
    SPANS: "ReplacingMergeTree(version)",
    EVENTS: "ReplacingMergeTree(version)",
    METRIC_POINTS: "ReplacingMergeTree(version)",
    LLM_CALLS: "ReplacingMergeTree(version)",
    TOOL_CALLS: "AggregatingMergeTree",
    SESSIONS: "AggregatingMergeTree",
    SESSION_ROLLUPS: "ReplacingMergeTree(computed_ns)",
    ERASURES: "ReplacingMergeTree(erased_ns)",
    **dict.fromkeys((CALL_SLOTS, SPAN_SLOTS, TOOL_SLOTS, ERROR_SLOTS), "ReplacingMergeTree(computed_ns)"),
    SLOT_MARKS: "AggregatingMergeTree",
    CALL_TIMES: "ReplacingMergeTree(version)",
    TOOL_TIMES: "MergeTree",
}

# The groups of a slot sums row, (column, type): group keys, then counts (slot_sums reads them in this order).
_NS_STR = "Nullable(String)"
SLOT_GROUPS: dict[str, tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]] = {
    CALL_SLOTS: ((("session_id", _NS_STR), ("model", _NS_STR), ("provider", _NS_STR), ("ref_trace", _NS_STR),
                  ("ref_span", _NS_STR)),
                 (("n", "UInt64"), ("failed", "UInt64"), ("unpriced", "UInt64"), ("t_in", "Int64"),
                  ("t_out", "Int64"), ("t_cr", "Int64"), ("t_cc", "Int64"), ("t_rs", "Int64"), ("cost", "Float64"),
                  ("savings", "Float64"), ("dur", "Float64"), ("timed", "UInt64"), ("spans", "UInt64"))),
    SPAN_SLOTS: ((("session_id", _NS_STR), ("own_source", _NS_STR), ("own_workspace", _NS_STR),
                  ("task_id", _NS_STR), ("model", _NS_STR), ("provider", _NS_STR)),
                 (("n", "UInt64"),)),
    TOOL_SLOTS: ((("session_id", _NS_STR), ("ref_trace", _NS_STR), ("ref_span", _NS_STR)),
                 (("n", "UInt64"), ("failed", "UInt64"))),
    ERROR_SLOTS: ((("session_id", _NS_STR), ("ref_trace", _NS_STR), ("ref_span", _NS_STR)),
                  (("n", "UInt64"),)),
}


# The columns CALL_TIMES and TOOL_TIMES copy (what the insights read of a call), besides the key, time and version.
CALL_TIME_COLUMNS = (
    ("session_id", "LowCardinality(Nullable(String))"), ("model", "LowCardinality(Nullable(String))"),
    ("provider", "LowCardinality(Nullable(String))"), ("trace_id", "Nullable(String)"),
    ("span_id", "Nullable(String)"), ("success", "Bool"), ("unpriced", "Bool"), ("tokens_in", "Int64"),
    ("tokens_out", "Int64"), ("cache_read_tokens", "Int64"), ("cache_creation_tokens", "Int64"),
    ("reasoning_tokens", "Int64"), ("cost_usd", "Float64"), ("cache_savings_usd", "Float64"),
    ("duration_ms", "Nullable(Float64)"))
TOOL_TIME_COLUMNS = (
    ("time_ns", "Nullable(Int64)"), ("session_id", "Tuple(UInt64, String)"), ("trace_id", "Tuple(UInt64, String)"),
    ("span_id", "Tuple(UInt64, String)"), ("named", "UInt8"), ("outcome", "UInt64"), ("live", "UInt64"))


def _slot_columns(table: str) -> str:
    keys, counts = SLOT_GROUPS[table]
    groups = ", ".join(f"{c} {t}" for c, t in keys + counts)
    return f"""
    org_id LowCardinality(String),
    slot_ns Int64,
    groups Array(Tuple({groups})) CODEC(ZSTD(1)),
    computed_ns UInt64"""


_TEXT = "String CODEC(ZSTD(1))"
# A resource is one process's: a part holds few distinct ones, repeated on every row. A dictionary makes them
# cheaper to insert, merge and store than compressing the repeated text (about a tenth of the insert's cost).
_RESOURCE = "LowCardinality(String)"
_RESOURCE_TABLES = (SPANS, EVENTS, METRIC_POINTS)
# Columns the engine derives from others, as core.records does (Usage.cost_usd, SpanRecord.duration_ms): the export
# leaves them out, sparing a Python property call per row.
_COST = "coalesce(provided_cost_usd, computed_cost_usd, 0)"
_SPAN_DURATION = "if(end_ns != 0, (end_ns - start_ns) / 1e6, 0)"
_DERIVED = ((SPANS, "duration_ms", _SPAN_DURATION), (SPANS, "cost_usd", _COST), (LLM_CALLS, "cost_usd", _COST))
_COLUMNS = {
    SPANS: f"""
    org_id LowCardinality(String),
    trace_id String,
    span_id String,
    parent_span_id Nullable(String),
    name LowCardinality(String),
    kind LowCardinality(String),
    status LowCardinality(String),
    status_message Nullable(String),
    start_ns Int64,
    end_ns Int64,
    duration_ms Float64 DEFAULT {_SPAN_DURATION},
    session_id LowCardinality(Nullable(String)),
    service_name LowCardinality(Nullable(String)),
    source_type LowCardinality(String),
    workspace LowCardinality(Nullable(String)),
    model LowCardinality(Nullable(String)),
    provider LowCardinality(Nullable(String)),
    tokens_in Int64,
    tokens_out Int64,
    cache_read_tokens Int64,
    cache_creation_tokens Int64,
    reasoning_tokens Int64,
    provided_cost_usd Nullable(Float64),
    computed_cost_usd Nullable(Float64),
    cost_usd Float64 DEFAULT {_COST},
    cache_savings_usd Float64,
    unpriced Bool,
    task_id LowCardinality(Nullable(String)),
    assignment_id Nullable(String),
    chain_id Nullable(String),
    stage_id Nullable(String),
    message_id Nullable(String),
    attributes {_TEXT},
    resource_attributes {_RESOURCE},
    events Nullable(String) CODEC(ZSTD(1)),
    version UInt64,
    INDEX session_bloom session_id {_BLOOM},
    INDEX trace_bloom trace_id {_BLOOM}""",
    EVENTS: f"""
    org_id LowCardinality(String),
    event_key String,
    name LowCardinality(String),
    dialect LowCardinality(String),
    time_ns Int64,
    session_id LowCardinality(Nullable(String)),
    prompt_id Nullable(String),
    trace_id Nullable(String),
    span_id Nullable(String),
    severity LowCardinality(Nullable(String)),
    body Nullable(String) CODEC(ZSTD(1)),
    attributes {_TEXT},
    resource_attributes {_RESOURCE},
    version UInt64,
    INDEX session_bloom session_id {_BLOOM},
    INDEX trace_bloom trace_id {_BLOOM}""",
    METRIC_POINTS: f"""
    org_id LowCardinality(String),
    series_key String,
    start_ns Int64,
    time_ns Int64,
    name LowCardinality(String),
    metric_type LowCardinality(String),
    temporality LowCardinality(String),
    value Float64,
    session_id LowCardinality(Nullable(String)),
    model LowCardinality(Nullable(String)),
    label_type LowCardinality(Nullable(String)),
    attributes {_TEXT},
    resource_attributes {_RESOURCE},
    version UInt64,
    INDEX session_bloom session_id {_BLOOM}""",
    LLM_CALLS: f"""
    org_id LowCardinality(String),
    call_key String,
    session_id LowCardinality(Nullable(String)),
    time_ns Int64,
    duration_ms Nullable(Float64),
    model LowCardinality(Nullable(String)),
    provider LowCardinality(Nullable(String)),
    tokens_in Int64,
    tokens_out Int64,
    cache_read_tokens Int64,
    cache_creation_tokens Int64,
    reasoning_tokens Int64,
    provided_cost_usd Nullable(Float64),
    computed_cost_usd Nullable(Float64),
    cost_usd Float64 DEFAULT {_COST},
    cache_savings_usd Float64,
    unpriced Bool,
    request_id Nullable(String),
    response_id Nullable(String),
    trace_id Nullable(String),
    span_id Nullable(String),
    event_key Nullable(String),
    prompt_id Nullable(String),
    success Bool,
    source LowCardinality(String),
    task_id LowCardinality(Nullable(String)),
    assignment_id Nullable(String),
    chain_id Nullable(String),
    stage_id Nullable(String),
    version UInt64,
    INDEX session_bloom session_id {_BLOOM},
    INDEX trace_bloom trace_id {_BLOOM}""",
    TOOL_CALLS: """
    org_id LowCardinality(String),
    tool_use_id String,
    session_id SimpleAggregateFunction(max, Tuple(UInt64, String)),
    tool_name SimpleAggregateFunction(max, Tuple(UInt64, String)),
    time_ns SimpleAggregateFunction(min, Nullable(Int64)),
    duration_ms SimpleAggregateFunction(max, Tuple(UInt64, Float64)),
    success SimpleAggregateFunction(max, Tuple(UInt64, UInt8)),
    error SimpleAggregateFunction(max, Tuple(UInt64, String)),
    decision SimpleAggregateFunction(max, Tuple(UInt64, String)),
    decision_source SimpleAggregateFunction(max, Tuple(UInt64, String)),
    approval_wait_ms SimpleAggregateFunction(max, Tuple(UInt64, Float64)),
    tool_input SimpleAggregateFunction(max, Tuple(UInt64, String)) CODEC(ZSTD(1)),
    tool_result SimpleAggregateFunction(max, Tuple(UInt64, String)) CODEC(ZSTD(1)),
    trace_id SimpleAggregateFunction(max, Tuple(UInt64, String)),
    span_id SimpleAggregateFunction(max, Tuple(UInt64, String)),
    named SimpleAggregateFunction(max, UInt8),
    outcome SimpleAggregateFunction(max, UInt64),
    live SimpleAggregateFunction(max, UInt64),
    version SimpleAggregateFunction(max, UInt64)""",
    SESSIONS: f"""
    org_id LowCardinality(String),
    session_id String,
    first_seen_ns SimpleAggregateFunction(min, Int64),
    last_seen_ns SimpleAggregateFunction(max, Int64),
    source_type SimpleAggregateFunction(min, Tuple(UInt64, String)),
    workspace SimpleAggregateFunction(min, Tuple(UInt64, String)),
    service_name SimpleAggregateFunction(min, Tuple(UInt64, String)),
    user_id SimpleAggregateFunction(min, Tuple(UInt64, String)),
    user_email SimpleAggregateFunction(min, Tuple(UInt64, String)),
    account_org SimpleAggregateFunction(min, Tuple(UInt64, String)),
    app_version SimpleAggregateFunction(min, Tuple(UInt64, String)),
    terminal_type SimpleAggregateFunction(min, Tuple(UInt64, String)),
    task_link SimpleAggregateFunction(min, Tuple(UInt64, String)),
    models SimpleAggregateFunction(groupUniqArrayArray, Array(String)),
    version SimpleAggregateFunction(max, UInt64),
    INDEX session_bloom session_id {_BLOOM}""",
    SESSION_ROLLUPS: """
    org_id LowCardinality(String),
    session_id String,
    lines_added Int64,
    lines_removed Int64,
    commits Int64,
    pull_requests Int64,
    active_time_ms Int64,
    computed_ns UInt64""",
    ERASURES: """
    org_id LowCardinality(String),
    session_id String,
    erased_ns UInt64""",
    **{table: _slot_columns(table) for table in SLOT_GROUPS},
    SLOT_MARKS: """
    org_id LowCardinality(String),
    family LowCardinality(String),
    slot_ns Int64,
    marked_ns SimpleAggregateFunction(max, UInt64)""",
    CALL_TIMES: f"""
    org_id LowCardinality(String),
    at_ns Int64,
    call_key String,
    {", ".join(f"{c} {t}" for c, t in CALL_TIME_COLUMNS)},
    version UInt64""",
    TOOL_TIMES: f"""
    org_id LowCardinality(String),
    at_ns Int64,
    tool_use_id String,
    {", ".join(f"{c} {t}" for c, t in TOOL_TIME_COLUMNS)},
    version UInt64""",
}


def _shadow_views() -> tuple[str, ...]:
    """Views that copy every write of LLM calls and tool calls into CALL_TIMES and TOOL_TIMES."""
    calls = ", ".join(f"w.{c} AS {c}" for c, _ in CALL_TIME_COLUMNS)
    tools = ", ".join(f"{_TOOL_ENCODED[c]} AS {c}" for c, _ in TOOL_TIME_COLUMNS)
    return (f"CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.{CALL_TIMES}_copy TO {{db}}.{CALL_TIMES} AS "
            f"SELECT w.org_id AS org_id, w.time_ns AS at_ns, w.call_key AS call_key, {calls}, w.version AS version "
            f"FROM {{db}}.{LLM_CALLS} AS w",
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.{TOOL_TIMES}_copy TO {{db}}.{TOOL_TIMES} AS "
            f"SELECT w.org_id AS org_id, {TOOL_AT} AS at_ns, w.tool_use_id AS tool_use_id, {tools}, "
            f"w.version AS version FROM {{db}}.{TOOL_CALL_WRITES} AS w")


def _create(table: str, ttl_days: int) -> str:
    column = TTL_COLUMNS[table]
    return (f"CREATE TABLE IF NOT EXISTS {{db}}.{table} ({_COLUMNS[table]}\n) ENGINE = {_ENGINES[table]}\n"
            f"PARTITION BY toYYYYMM({_seconds(column)})\nORDER BY ({_ORDER[table]})\n"
            f"TTL {_ttl_clause(column, ttl_days)}\n"
            "SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000")


_TOOL_TEXT = ("session_id", "tool_name", "error", "decision", "decision_source", "tool_input", "tool_result",
              "trace_id", "span_id")
_SESSION_TEXT = ("workspace", "service_name", "user_id", "user_email", "account_org", "app_version",
                 "terminal_type", "task_link")


# How a tool call write (`w`, plain columns) is encoded into TOOL_CALLS. Raw columns are qualified (`w.`): the
# aliases of the SELECT reuse their names.
_TOOL_ENCODED = {
    **{c: f"(if(isNull(w.{c}), {ABSENT_LOW}, w.version), ifNull(w.{c}, ''))" for c in _TOOL_TEXT},
    **{c: f"(if(isNull(w.{c}), {ABSENT_LOW}, w.version), ifNull(w.{c}, 0))"
       for c in ("duration_ms", "approval_wait_ms")},
    "success": f"(if(isNull(w.success), {ABSENT_LOW}, w.version), toUInt8(ifNull(w.success, false)))",
    "named": "toUInt8(isNotNull(w.tool_name) OR isNotNull(w.success))",
    "outcome": "if(isNull(w.success), 0, w.version * 2 + toUInt64(w.success))",
    "live": "w.version * 2 + toUInt64(w.deleted = 0)",
    "time_ns": "w.time_ns",
    "version": "w.version",
}
# TOOL_TIMES sorts a sighting by its time, or by its write when it has none (a decision event).
TOOL_AT = "coalesce(w.time_ns, toInt64(w.version))"


def _writes() -> tuple[str, ...]:
    """The write tables of the two aggregating tables and the views that encode their rows."""
    tool_columns = ", ".join(
        [f"{c} Nullable(String)" for c in _TOOL_TEXT]
        + ["time_ns Nullable(Int64)", "duration_ms Nullable(Float64)", "approval_wait_ms Nullable(Float64)",
           "success Nullable(Bool)", "deleted UInt8", "version UInt64"])
    tool_select = ", ".join(f"{expr} AS {c}" for c, expr in _TOOL_ENCODED.items())
    session_columns = ", ".join(
        ["first_seen_ns Int64", "last_seen_ns Int64", "source_type String"]
        + [f"{c} Nullable(String)" for c in _SESSION_TEXT] + ["models Array(String)", "version UInt64"])
    session_select = ", ".join(
        ["w.first_seen_ns AS first_seen_ns", "w.last_seen_ns AS last_seen_ns",
         f"(if(w.source_type = 'other', {ABSENT_HIGH}, w.version), w.source_type) AS source_type"]
        + [f"(if(isNull(w.{c}), {ABSENT_HIGH}, w.version), ifNull(w.{c}, '')) AS {c}" for c in _SESSION_TEXT]
        + ["w.models AS models", "w.version AS version"])
    out = []
    for writes, target, columns, select in ((TOOL_CALL_WRITES, TOOL_CALLS, tool_columns, tool_select),
                                            (SESSION_WRITES, SESSIONS, session_columns, session_select)):
        key = "tool_use_id" if target == TOOL_CALLS else "session_id"
        out.append(f"CREATE TABLE IF NOT EXISTS {{db}}.{writes} (org_id LowCardinality(String), {key} String, "
                   f"{columns}) ENGINE = Null")
        out.append(f"CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.{target}_encode TO {{db}}.{target} AS "
                   f"SELECT w.org_id AS org_id, w.{key} AS {key}, {select} FROM {{db}}.{writes} AS w")
    return tuple(out)


def migrations(ttl_days: int = DEFAULT_TTL_DAYS) -> list[Migration]:
    """The telemetry history's migrations; ``ttl_days`` is the retention new tables are created with (change it on
    existing tables with ``apply_retention``)."""
    if ttl_days < 1:
        raise ValueError("ttl_days must be at least 1")
    return [Migration(100, "telemetry history: spans, events, LLM calls, tool calls, metric points, sessions, "
                      "session rollups", tuple(_create(table, ttl_days) for table in TABLES) + _writes()),
            Migration(101, "telemetry history: session erasures", (_create(ERASURES, ttl_days),)),
            Migration(102, "telemetry history: slot sums of the insights and the marks of touched slots",
                      tuple(_create(table, ttl_days) for table in SLOT_TABLES) + _shadow_views()),
            Migration(104, "telemetry history: resource attributes as a dictionary",
                      tuple(f"ALTER TABLE {{db}}.{table} MODIFY COLUMN resource_attributes {_RESOURCE}"
                            for table in _RESOURCE_TABLES)),
            Migration(105, "telemetry history: costs and span durations derived by the engine",
                      tuple(f"ALTER TABLE {{db}}.{table} MODIFY COLUMN {column} Float64 DEFAULT {expression}"
                            for table, column, expression in _DERIVED))]


MIGRATIONS = migrations()


def apply_retention(conn: AnalyticsConnection, ttl_days: int) -> None:
    """Set every history table's TTL to ``ttl_days`` (idempotent: the same TTL again changes nothing)."""
    if ttl_days < 1:
        raise ValueError("ttl_days must be at least 1")
    for table in HISTORY_TABLES:
        conn.client.command(f"ALTER TABLE `{conn.database}`.{table} MODIFY TTL "
                            f"{_ttl_clause(TTL_COLUMNS[table], ttl_days)}")
