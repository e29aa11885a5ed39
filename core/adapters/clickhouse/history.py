"""ClickHouseHistory: the export worker's and aggregate worker's writes of the telemetry history (one insert per
table per batch, idempotent under replay; layout in history_schema)."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from core.adapters.clickhouse import history_schema as schema
from core.adapters.clickhouse import slot_sums
from core.adapters.clickhouse.connection import ASYNC_BELOW, AnalyticsConnection, WorkerPool
from core.adapters.clickhouse.slot_sums import Ranges
from core.errors import StorageUnavailable
from core.normalise.linking import EXECUTE_SPAN_NAMES
from core.normalise.spans import tool_placeholder_id
from core.ports.fact_insights import SessionRollupRow, TelemetryHistory
from core.ports.insights import API_ERROR_EVENTS
from core.records import (
    Batch,
    EventRecord,
    LlmCallRecord,
    SpanRecord,
    ToolCallRecord,
    Usage,
    merged_spans,
    merged_tool_calls,
)

_PLACEHOLDER = "span:"

# A column: (name, wire type, the record's attribute path or a function of the record). Paths are read with
# attrgetter, one C-level pass per column; a nested path's parents ("usage", "links") are read once per batch.
Column = tuple[str, str, str | Callable[[Any], Any]]
_S, _NS, _I, _F, _NF, _B, _NB, _U = ("String", "Nullable(String)", "Int64", "Float64", "Nullable(Float64)", "Bool",
                                     "Nullable(Bool)", "UInt64")
# Values that repeat across a batch's rows (names, sessions, models, a process's resource, a trace's id on its spans)
# travel as a dictionary and its indexes: each distinct value is encoded and parsed once. Against plain strings,
# a span row costs about 40% less to send and insert (a resource alone is ~150 bytes on every row).
_LS, _LNS = "LowCardinality(String)", "LowCardinality(Nullable(String))"


def column_values(records: Sequence[Any], columns: Sequence[Column]) -> list[list[Any]]:
    """Each column's values over ``records``. Reading "usage.model" as the usages' "model" after one pass over
    "usage" halves the attribute reads of nested columns (about 40% of a span's column reads)."""
    parents: dict[str, list[Any]] = {}
    out: list[list[Any]] = []
    for _, _, value in columns:
        if not isinstance(value, str):
            out.append(list(map(value, records)))
            continue
        parent, _, name = value.rpartition(".")
        owners: Sequence[Any] = records
        if parent:
            if parent not in parents:
                parents[parent] = list(map(attrgetter(parent), records))
            owners = parents[parent]
        out.append(list(map(attrgetter(name), owners)))
    return out


_SPAN_COLUMNS: tuple[Column, ...] = (
    ("trace_id", _LS, "trace_id"), ("span_id", _S, "span_id"),
    ("parent_span_id", _NS, "parent_span_id"), ("name", _LS, "name"), ("kind", _LS, "kind"),
    ("status", _LS, "status"), ("status_message", _NS, "status_message"),
    ("start_ns", _I, "start_ns"), ("end_ns", _I, "end_ns"),
    ("session_id", _LNS, "session_id"), ("service_name", _LNS, "service_name"),
    ("source_type", _LS, "source_type"),
    ("workspace", _LNS, lambda s: s.workspace or None),  # the Store keeps no empty workspace
    ("model", _LNS, "usage.model"), ("provider", _LNS, "usage.provider"),
    ("tokens_in", _I, "usage.tokens_in"), ("tokens_out", _I, "usage.tokens_out"),
    ("cache_read_tokens", _I, "usage.cache_read_tokens"),
    ("cache_creation_tokens", _I, "usage.cache_creation_tokens"),
    ("reasoning_tokens", _I, "usage.reasoning_tokens"),
    ("provided_cost_usd", _NF, "usage.provided_cost_usd"),
    ("computed_cost_usd", _NF, "usage.computed_cost_usd"),
    ("cache_savings_usd", _F, "usage.cache_savings_usd"), ("unpriced", _B, "usage.unpriced"),
    ("task_id", _LNS, "links.task_id"), ("assignment_id", _NS, "links.assignment_id"),
    ("chain_id", _NS, "links.chain_id"), ("stage_id", _NS, "links.stage_id"),
    ("message_id", _NS, "links.message_id"), ("attributes", _S, "attributes_json"),
    ("resource_attributes", _LS, "resource_json"), ("events", _NS, "events_json"),
)
_EVENT_COLUMNS: tuple[Column, ...] = (
    ("event_key", _S, "event_key"), ("name", _LS, "name"), ("dialect", _LS, "dialect"),
    ("time_ns", _I, "time_ns"), ("session_id", _LNS, "session_id"),
    ("prompt_id", _NS, "prompt_id"), ("trace_id", _NS, "trace_id"), ("span_id", _NS, "span_id"),
    ("severity", _LNS, "severity"), ("body", _NS, "body"), ("attributes", _S, "attributes_json"),
    ("resource_attributes", _LS, "resource_json"),
)
_POINT_COLUMNS: tuple[Column, ...] = (
    ("series_key", _S, "series_key"), ("start_ns", _I, "start_ns"), ("time_ns", _I, "time_ns"),
    ("name", _LS, "name"), ("metric_type", _LS, "metric_type"),
    ("temporality", _LS, "temporality"), ("value", _F, lambda p: float(p.value)),
    ("session_id", _LNS, "session_id"), ("model", _LNS, "model"), ("label_type", _LNS, "label_type"),
    ("attributes", _S, "attributes_json"), ("resource_attributes", _LS, "resource_json"),
)
_CALL_COLUMNS: tuple[Column, ...] = (
    ("call_key", _S, "call_key"), ("session_id", _LNS, "session_id"), ("time_ns", _I, "time_ns"),
    ("duration_ms", _NF, "duration_ms"), ("model", _LNS, "usage.model"),
    ("provider", _LNS, "usage.provider"), ("tokens_in", _I, "usage.tokens_in"),
    ("tokens_out", _I, "usage.tokens_out"), ("cache_read_tokens", _I, "usage.cache_read_tokens"),
    ("cache_creation_tokens", _I, "usage.cache_creation_tokens"),
    ("reasoning_tokens", _I, "usage.reasoning_tokens"),
    ("provided_cost_usd", _NF, "usage.provided_cost_usd"),
    ("computed_cost_usd", _NF, "usage.computed_cost_usd"),
    ("cache_savings_usd", _F, "usage.cache_savings_usd"), ("unpriced", _B, "usage.unpriced"),
    ("request_id", _NS, "request_id"), ("response_id", _NS, "response_id"),
    ("trace_id", _NS, "trace_id"), ("span_id", _NS, "span_id"), ("event_key", _NS, "event_key"),
    ("prompt_id", _NS, "prompt_id"), ("success", _B, "success"),
    ("source", _LS, "source"), ("task_id", _LNS, "links.task_id"),
    ("assignment_id", _NS, "links.assignment_id"), ("chain_id", _NS, "links.chain_id"),
    ("stage_id", _NS, "links.stage_id"),
)


def history_columns(record_type: type[SpanRecord] | type[EventRecord]) -> tuple[Column, ...]:
    """The columns the export writes for spans or events (the analytics benchmark builds its baseline from them)."""
    return _SPAN_COLUMNS if record_type is SpanRecord else _EVENT_COLUMNS


# Tool calls and session sightings go to their write tables as plain values (history_schema encodes them).
_TOOL_FIELDS = (("session_id", _LNS), ("tool_name", _LNS), ("error", _NS), ("decision", _LNS),
                ("decision_source", _LNS), ("tool_input", _NS), ("tool_result", _NS), ("trace_id", _NS),
                ("span_id", _NS), ("time_ns", "Nullable(Int64)"), ("duration_ms", _NF), ("approval_wait_ms", _NF),
                ("success", _NB))
_TOOL_COLUMNS: tuple[Column, ...] = (("tool_use_id", _S, "tool_use_id"),
                                     *((name, wire, name) for name, wire in _TOOL_FIELDS))
_SESSION_PROPERTIES = ("workspace", "service_name", "user_id", "user_email", "account_org", "app_version",
                       "terminal_type")
_SESSION_COLUMNS: tuple[Column, ...] = (
    ("session_id", _S, "session_id"), ("first_seen_ns", _I, "first_seen_ns"),
    ("last_seen_ns", _I, "last_seen_ns"), ("source_type", _S, "source_type"),
    *((p, _NS, p) for p in _SESSION_PROPERTIES), ("models", "Array(String)", lambda s: sorted(s.models)),
)
_ROLLUP_COLUMNS: tuple[Column, ...] = (
    ("session_id", _S, "session_id"), ("lines_added", _I, "lines_added"),
    ("lines_removed", _I, "lines_removed"), ("commits", _I, "commits"),
    ("pull_requests", _I, "pull_requests"), ("active_time_ms", _I, "active_time_ms"),
    ("computed_ns", _U, "computed_ns"),
)


def _joined(values: Sequence[Any]) -> str:
    try:
        return "\0".join(values)  # string columns, the usual keys: one C-level pass
    except TypeError:  # numbers or NULLs among them
        return "\0".join(map(str, values))


def _keys_digest(*columns: Sequence[Any]) -> str:
    """A digest of the key columns' values in order, each value and each column separated by NUL (the same bytes as
    one join over them all, without building the concatenated list and a str() call per string)."""
    h = hashlib.blake2b(digest_size=16)
    for i, column in enumerate(columns):
        if i and columns[i - 1] and column:
            h.update(b"\0")
        h.update(_joined(column).encode())
    return h.hexdigest()


# Up to four tables' writes at once, each on its own engine handle: while one encodes its rows (holding the GIL),
# the others run in the engine (more threads than cores keep both busy).
_POOL = WorkerPool("history-insert", 4)


class ClickHouseHistory(TelemetryHistory):
    """Writes the telemetry history on one AnalyticsConnection (migrated on construction).

    Within a batch, a key reported twice is written as the Store would keep it: tool calls are merged (a later
    present field wins, the earliest time stays), spans too (the last report, with the links and workspace an
    earlier one gave where it has none), sessions come merged in the batch, LLM calls resolve to the last (its
    version is the highest); for events and metric points (the same record twice in one request)
    the engine keeps one row per key."""

    def __init__(self, conn: AnalyticsConnection, ttl_days: int = schema.DEFAULT_TTL_DAYS, migrate: bool = True
                 ) -> None:
        self._conn = conn
        self._db = conn.database
        self._slots = slot_sums.SlotSums(conn)
        if migrate:
            try:
                conn.migrate([*schema.migrations(ttl_days), slot_sums.backfill_migration(),
                              slot_sums.computed_marks_migration()])
            except Exception as exc:
                raise StorageUnavailable(f"cannot migrate the telemetry history: {type(exc).__name__}: "
                                         f"{str(exc)[:300]}") from exc

    # -- writes --------------------------------------------------------------------------------------------------
    def export(self, org_id: str, batch: Batch, version_ns: int | None = None) -> None:
        version = time.time_ns() if version_ns is None else version_ns
        # An LLM call twice in one batch: its rows carry version + their position, so the key resolves to its last
        # write, as the Store keeps it (rows of one version would tie in every lookup of a key's newest state).
        # An adopted placeholder's row carries version - 1.
        versions = (version - 1, version + len(batch.llm_calls))
        spans = merged_spans(batch.spans)

        def then(write: Callable[[], None], mark: Callable[[], None]) -> Callable[[], None]:
            """The write, then the marks of the slots it touched, on the same thread: one table's marks are written
            while the others are still being written."""
            def run() -> None:
                write()
                mark()
            return run

        def landed(family: slot_sums.Family, near: Callable[[], Ranges]) -> Callable[[], None]:
            return lambda: self._slots.written(org_id, versions, family, near())

        def of_records(family: slot_sums.Family, times: Callable[[], Iterable[int]]) -> Callable[[], None]:
            # A fact's slot is that of its own time: the records name them (a record an erasure kept from landing
            # only marks a slot needlessly, which is recomputed, never wrong), with no lookup in the engine.
            return lambda: self._slots.mark(org_id, {family: {slot_sums.slot_of(t) for t in times()}})

        writes: list[Callable[[], None]] = []
        if spans:
            writes.append(then(lambda: self._insert(org_id, schema.SPANS, _SPAN_COLUMNS, spans, version),
                               of_records(slot_sums.SPANS, lambda: map(attrgetter("start_ns"), spans))))
        if batch.events:
            writes.append(then(lambda: self._insert(org_id, schema.EVENTS, _EVENT_COLUMNS, batch.events, version),
                               of_records(slot_sums.ERRORS, lambda: (e.time_ns for e in batch.events
                                                                    if e.name in API_ERROR_EVENTS))))
        if batch.llm_calls:
            writes.append(then(lambda: self._insert(org_id, schema.LLM_CALLS, _CALL_COLUMNS, batch.llm_calls, version,
                                                    repeats="call_key"),
                               landed(slot_sums.CALLS, lambda: _near(batch.llm_calls, version, schema.SLACK_NS))))
        if batch.metric_points:
            writes.append(lambda: self._insert(org_id, schema.METRIC_POINTS, _POINT_COLUMNS, batch.metric_points,
                                               version))
        if batch.sessions:
            links = _session_links(batch.spans)
            link: Column = ("task_link", _NS, lambda r: links.get(r.session_id))
            writes.append(lambda: self._insert(org_id, schema.SESSION_WRITES, (*_SESSION_COLUMNS, link),
                                               list(batch.sessions.values()), version))
        if batch.tool_calls:
            writes.append(then(lambda: self._tools(org_id, batch.tool_calls, version),
                               landed(slot_sums.TOOLS, lambda: _near(batch.tool_calls, version, schema.SLACK_NS))))
        _POOL.run(writes)
        self._slots.sweep_if_due(org_id)

    def settle_slots(self, org_id: str) -> int:
        """Recompute every dirty slot sum of the org now (reads are exact either way; settled ones are cheaper)."""
        return self._slots.settle(org_id)

    def _tools(self, org_id: str, tools: Sequence[ToolCallRecord], version: int) -> None:
        """Writes the tool calls (placeholders adopted and retired included)."""
        tools = merged_tool_calls(list(tools))
        extra = self._adoptions(org_id, tools, version)
        moved = {row["tool_use_id"] for row in extra if row.get("deleted")}
        if moved:  # a placeholder moved to its real id is not written under its own key
            tools = [t for t in tools if t.tool_use_id not in moved]
        self._insert(org_id, schema.TOOL_CALL_WRITES, _TOOL_COLUMNS, tools, version, extra=extra)

    def export_session_rollups(self, org_id: str, rows: Sequence[SessionRollupRow]) -> None:
        if rows:
            self._insert(org_id, schema.SESSION_ROLLUPS, _ROLLUP_COLUMNS, list(rows), max(r.computed_ns for r in rows),
                         versioned=False)

    # -- API span writes -----------------------------------------------------------------------------------------
    def copy_spans(self, org_id: str, keys: Sequence[tuple[str, str]], stored: Sequence[SpanRecord]) -> None:
        if not keys:
            return
        version = time.time_ns()
        p = {"keys": sorted(set(keys))}
        slots = self._slots.rows_slots(org_id, schema.SPANS, "start_ns",
                                       "(trace_id, span_id) IN {keys:Array(Tuple(String, String))}", p)
        slots |= {slot_sums.slot_of(s.start_ns) for s in stored}
        if stored:  # written first, so a reader never finds the span missing in between
            self._insert(org_id, schema.SPANS, _SPAN_COLUMNS, list(stored), version)
        try:
            self._conn.client.command(
                f"DELETE FROM {self._db}.{schema.SPANS} WHERE org_id = {{org:String}} "
                "AND (trace_id, span_id) IN {keys:Array(Tuple(String, String))} AND version < {version:UInt64}",
                parameters={"org": org_id, "keys": p["keys"], "version": version})
        except Exception as exc:
            raise StorageUnavailable(f"telemetry history cannot take the write ({schema.SPANS}): "
                                     f"{type(exc).__name__}") from exc
        self._slots.touched(org_id, {slot_sums.SPANS: slots})

    # -- erasure -------------------------------------------------------------------------------------------------
    def erase_session(self, org_id: str, session_id: str, erased_ns: int) -> None:
        db = self._db
        p: dict[str, Any] = {"org": org_id, "sid": session_id}
        # Recorded first: an export running meanwhile either sees it or wrote before the deletes below.
        self._insert(org_id, schema.ERASURES, (("session_id", _S, "session_id"), ("erased_ns", _U, "ns")),
                     [_Erasure(session_id, erased_ns)], erased_ns, versioned=False)
        spans = [(r[0], r[1]) for r in self._query(
            f"SELECT DISTINCT trace_id, span_id FROM {db}.{schema.SPANS} WHERE org_id = {{org:String}} "
            "AND session_id = {sid:String}", p)]
        p["spans"] = spans
        of_spans = " OR (ifNull(trace_id, ''), ifNull(span_id, '')) IN {spans:Array(Tuple(String, String))}"
        # A tool call belongs to the session when its newest sighting with a session names it, or a sighting names
        # one of its spans.
        having = "argMax(tupleElement(session_id, 2), tupleElement(session_id, 1)) = {sid:String}"
        if spans:
            having += (" OR countIf((tupleElement(trace_id, 2), tupleElement(span_id, 2)) "
                       "IN {spans:Array(Tuple(String, String))}) > 0")
        p["tools"] = [r[0] for r in self._query(
            f"SELECT tool_use_id FROM {db}.{schema.TOOL_CALLS} WHERE org_id = {{org:String}} GROUP BY tool_use_id "
            f"HAVING {having}", p)]
        calls = f"session_id = {{sid:String}}{of_spans if spans else ''}"
        deletes = [
            (schema.LLM_CALLS, calls), (schema.CALL_TIMES, calls),
            *((table, "tool_use_id IN {tools:Array(String)}") for table in (schema.TOOL_CALLS, schema.TOOL_TIMES)
              if p["tools"]),
            *((table, "session_id = {sid:String}") for table in (
                schema.EVENTS, schema.METRIC_POINTS, schema.SPANS, schema.SESSIONS, schema.SESSION_ROLLUPS)),
        ]
        # The slots of the rows about to go: their sums are recomputed once the rows are gone.
        p["api_errors"] = list(API_ERROR_EVENTS)
        counted = [(slot_sums.CALLS, schema.LLM_CALLS, "time_ns", calls),
                   (slot_sums.SPANS, schema.SPANS, "start_ns", "session_id = {sid:String}"),
                   (slot_sums.ERRORS, schema.EVENTS, "time_ns",
                    "session_id = {sid:String} AND name IN {api_errors:Array(String)}")]
        if p["tools"]:
            counted.append((slot_sums.TOOLS, schema.TOOL_CALLS, "time_ns", "tool_use_id IN {tools:Array(String)}"))
        touched = {family: self._slots.rows_slots(org_id, table, time_column, where, p)
                   for family, table, time_column, where in counted}
        for table, where in deletes:
            try:
                self._conn.client.command(f"DELETE FROM {db}.{table} WHERE org_id = {{org:String}} AND ({where})",
                                          parameters=p)
            except Exception as exc:
                raise StorageUnavailable(f"telemetry history cannot erase ({table}): {type(exc).__name__}") from exc
        self._slots.touched(org_id, touched, force=True)

    # -- repricing ----------------------------------------------------------------------------------------------
    def iter_priced(self) -> Iterator[tuple[str, str, str, LlmCallRecord]]:
        """Pages in sorting-key order (keyset pagination): no read stays open while the caller writes."""
        usage = ("model, tokens_in, tokens_out, cache_read_tokens, cache_creation_tokens, reasoning_tokens, "
                 "provided_cost_usd")
        for name, table, order, key in (
                ("llm_calls", schema.LLM_CALLS, ("org_id", "call_key"), "call_key"),
                ("spans", schema.SPANS, ("org_id", "start_ns", "trace_id", "span_id"),
                 "concat(trace_id, ':', span_id)")):
            cursor: tuple[Any, ...] | None = None
            while True:
                after = f" AND ({', '.join(order)}) > {{after:{_tuple_type(order)}}}" if cursor else ""
                page = self._query(
                    f"SELECT {', '.join(order)}, {key}, {usage} FROM {self._db}.{table} FINAL "
                    f"WHERE model IS NOT NULL{after} ORDER BY {', '.join(order)} LIMIT {_PRICED_PAGE}",
                    {"after": cursor} if cursor else {})
                for r in page:
                    u = r[len(order) + 1:]
                    yield name, r[0], r[len(order)], LlmCallRecord(
                        r[len(order)], None, 0, None, Usage(model=u[0], tokens_in=u[1], tokens_out=u[2],
                                                            cache_read_tokens=u[3], cache_creation_tokens=u[4],
                                                            reasoning_tokens=u[5], provided_cost_usd=u[6]))
                if len(page) < _PRICED_PAGE:
                    break
                cursor = tuple(page[-1][:len(order)])

    def update_computed_costs(self, table: str, rows: Sequence[tuple[str, str, LlmCallRecord]]) -> None:
        """The new costs go to a scratch table; one INSERT .. SELECT then rewrites each row from its newest version
        with them, under a newer version (a span keeps its sorting key, so the rewrite replaces it)."""
        if not rows:
            return
        target, on = {"llm_calls": (schema.LLM_CALLS, "c.call_key = p.k"),
                      "spans": (schema.SPANS, "concat(c.trace_id, ':', c.span_id) = p.k")}[table]
        scratch = f"{self._db}.reprice_{uuid.uuid4().hex}"
        db = self._db
        version = time.time_ns()
        try:
            self._conn.client.command(
                f"CREATE TABLE {scratch} (org_id String, k String, computed Nullable(Float64), cost Float64, "
                "savings Float64, unpriced Bool) ENGINE = Memory")
            try:
                self._conn.client.insert(scratch, [[org, key, r.usage.computed_cost_usd, r.usage.cost_usd,
                                                    r.usage.cache_savings_usd, r.usage.unpriced]
                                                   for org, key, r in rows],
                                         column_names=["org_id", "k", "computed", "cost", "savings", "unpriced"])
                self._conn.client.command(
                    f"INSERT INTO {db}.{target} SELECT c.* REPLACE (p.computed AS computed_cost_usd, p.cost AS "
                    f"cost_usd, p.savings AS cache_savings_usd, p.unpriced AS unpriced, {version} AS version) "
                    f"FROM {db}.{target} AS c FINAL INNER JOIN {scratch} AS p ON c.org_id = p.org_id AND {on}",
                    settings={"optimize_on_insert": 0})
            finally:
                self._conn.client.command(f"DROP TABLE IF EXISTS {scratch}")
        except Exception as exc:
            raise StorageUnavailable(f"telemetry history cannot take the repricing ({table}): "
                                     f"{type(exc).__name__}") from exc
        if table == "llm_calls":  # the calls' costs are in the slot sums
            by_org: dict[str, list[str]] = {}
            for org, key, _ in rows:
                by_org.setdefault(org, []).append(key)
            for org, keys in by_org.items():
                slots = self._slots.rows_slots(org, schema.LLM_CALLS, "time_ns", "call_key IN {keys:Array(String)}",
                                               {"keys": keys})
                self._slots.touched(org, {slot_sums.CALLS: slots}, force=True)

    def erased_sessions(self, org_id: str, session_ids: Sequence[str]) -> dict[str, int]:
        if not session_ids:
            return {}
        rows = self._query(f"SELECT session_id, max(erased_ns) FROM {self._db}.{schema.ERASURES} "
                           "WHERE org_id = {org:String} AND session_id IN {ids:Array(String)} GROUP BY session_id",
                           {"org": org_id, "ids": sorted(set(session_ids))})
        return {str(r[0]): int(r[1]) for r in rows}

    def _insert(self, org_id: str, table: str, columns: Sequence[Column], records: Sequence[Any], version: int,
                extra: list[dict[str, Any]] | None = None, versioned: bool = True, repeats: str | None = None
                ) -> None:
        """One column-oriented insert of ``records`` (plus ``extra`` rows given as column -> value), with
        org_id and version. The deduplication token names the table, the version, the size and a digest of the
        keys: a redelivered batch (same version) is dropped by the engine; a replay under a new version is
        absorbed by the tables' merges instead. When a value of the ``repeats`` column occurs twice, each row's
        version is version + its position (the later row of a key wins)."""
        data: list[list[Any]] = [[org_id] * len(records), *column_values(records, columns)]
        names = ["org_id", *(c[0] for c in columns)]
        types = [_LS, *(c[1] for c in columns)]
        if versioned:
            n = len(records)
            repeated = repeats is not None and len(set(data[names.index(repeats)])) < n
            data.append(list(range(version, version + n)) if repeated else [version] * n)
            names.append("version")
            types.append(_U)
        if table == schema.TOOL_CALL_WRITES:
            data.append([0] * len(records))
            names.append("deleted")
            types.append("UInt8")
        for row in extra or []:
            for name, column in zip(names, data, strict=True):
                column.append(row.get(name, org_id if name == "org_id" else None))
        keys = _keys_digest(data[1], data[2])
        token = f"{org_id}:{table}:{version}:{len(data[0])}:{keys}"
        # A nullable column without a value in the batch is left to its default (NULL): nothing to encode or parse.
        # Most rows leave most optional fields empty (links, status messages, provided costs).
        n = len(data[0])
        kept = [i for i, (kind, column) in enumerate(zip(types, data, strict=True))
                if "Nullable" not in kind or column.count(None) != n]
        if len(kept) < len(data):
            data, names, types = [data[i] for i in kept], [names[i] for i in kept], [types[i] for i in kept]
        # optimize_on_insert=0: the engine would otherwise collapse each block by key on insert (3-4x its insert
        # cost); reads resolve versions with FINAL or GROUP BY anyway.
        settings: dict[str, Any] = {"insert_deduplication_token": token, "optimize_on_insert": 0,
                                    "deduplicate_blocks_in_dependent_materialized_views": 1}
        if len(data[0]) < ASYNC_BELOW:  # one message's rows (a Pub/Sub push): the server coalesces such inserts
            settings.update(async_insert=1, wait_for_async_insert=1, async_insert_deduplicate=1)
        else:
            settings["async_insert"] = 0
        try:
            self._conn.client.insert(f"{self._db}.{table}", data, column_names=names, column_type_names=types,
                                     column_oriented=True, settings=settings)
        except Exception as exc:
            raise StorageUnavailable(f"telemetry history cannot take the write ({table}): "
                                     f"{type(exc).__name__}") from exc

    # -- tool placeholders ---------------------------------------------------------------------------------------
    def _adoptions(self, org_id: str, tools: Sequence[ToolCallRecord], version: int) -> list[dict[str, Any]]:
        """Rows that move span placeholders into real tool ids, as the Store's adoption does: a batch naming a
        real id for a span merges the stored placeholder of that span into it (its fields rank just below the
        batch's) and retires the placeholder key; a placeholder whose real id is already stored goes to it."""
        named = [t for t in tools if t.trace_id and t.span_id and not t.tool_use_id.startswith(_PLACEHOLDER)]
        pending = {t.tool_use_id: t for t in tools
                   if t.tool_use_id.startswith(_PLACEHOLDER) and t.trace_id and t.span_id}
        out: list[dict[str, Any]] = []
        if named and self._has_placeholders(org_id, version):  # the keys are built only when some may be adopted
            real = {tool_placeholder_id(t.trace_id or "", t.span_id or ""): t.tool_use_id for t in named}
            for row in self._stored_tools(org_id, list(real)):
                out.append({**row, "tool_use_id": real[row["tool_use_id"]], "version": version - 1, "deleted": 0})
                # The retiring row carries the placeholder's time (its own minimum: nothing changes), so the
                # time-sorted copy files it beside the placeholder's other sightings.
                out.append({"tool_use_id": row["tool_use_id"], "version": version, "deleted": 1,
                            "time_ns": row["time_ns"]})
        if pending:
            for placeholder, real_id in self._real_ids(org_id, pending):
                t = pending[placeholder]
                out.append({**{f: getattr(t, f) for f, _ in _TOOL_FIELDS}, "tool_use_id": real_id,
                            "version": version, "deleted": 0})
                out.append({"tool_use_id": placeholder, "version": version, "deleted": 1, "time_ns": t.time_ns})
        return out

    def _has_placeholders(self, org_id: str, version: int) -> bool:
        """Whether any placeholder key was written from a day before this batch on (a primary-key range)."""
        sql = (f"SELECT count() FROM {self._db}.{schema.TOOL_CALLS} WHERE org_id = {{org:String}} "
               "AND startsWith(tool_use_id, 'span:') AND _partition_id >= {month:String}")
        rows = self._query(sql, {"org": org_id, "month": schema.partition_id(version - schema.SLACK_NS)})
        return bool(rows and int(rows[0][0]))

    def _stored_tools(self, org_id: str, keys: list[str]) -> list[dict[str, Any]]:
        """Stored, live tool calls of these keys, merged, as plain values."""
        decoded = ", ".join(
            f"min({c}) AS {c}" if c == "time_ns" else
            f"if(tupleElement(max({c}), 1) = 0, NULL, tupleElement(max({c}), 2)) AS {c}" for c, _ in _TOOL_FIELDS)
        sql = (f"SELECT tool_use_id, {decoded} FROM {self._db}.{schema.TOOL_CALLS} "
               "WHERE org_id = {org:String} AND tool_use_id IN {keys:Array(String)} "
               "GROUP BY tool_use_id HAVING max(live) % 2 = 1")
        names = ["tool_use_id", *(c for c, _ in _TOOL_FIELDS)]
        out = []
        for r in self._query(sql, {"org": org_id, "keys": keys}):
            row = dict(zip(names, r, strict=True))
            if row["success"] is not None:
                row["success"] = bool(row["success"])
            out.append(row)
        return out

    def _real_ids(self, org_id: str, placeholders: dict[str, ToolCallRecord]) -> list[tuple[str, str]]:
        """(placeholder, real id) for placeholders whose span already has a stored real tool id."""
        sql = (f"SELECT tupleElement(max(trace_id), 2) AS t, tupleElement(max(span_id), 2) AS s, tool_use_id "
               f"FROM {self._db}.{schema.TOOL_CALLS} WHERE org_id = {{org:String}} "
               "AND tupleElement(trace_id, 2) IN {traces:Array(String)} AND NOT startsWith(tool_use_id, 'span:') "
               "GROUP BY tool_use_id HAVING (t, s) IN {pairs:Array(Tuple(String, String))}")
        pairs = [(t.trace_id or "", t.span_id or "") for t in placeholders.values()]
        found = {(r[0], r[1]): r[2] for r in self._query(
            sql, {"org": org_id, "traces": sorted({p[0] for p in pairs}), "pairs": pairs})}
        return [(key, found[(t.trace_id or "", t.span_id or "")]) for key, t in placeholders.items()
                if (t.trace_id or "", t.span_id or "") in found]

    def _query(self, sql: str, parameters: dict[str, Any]) -> list[Sequence[Any]]:
        try:
            return list(self._conn.client.query(sql, parameters=parameters).result_rows)
        except Exception as exc:
            raise StorageUnavailable(f"telemetry history cannot be read: {type(exc).__name__}") from exc


_PRICED_PAGE = 50_000


def _tuple_type(columns: Sequence[str]) -> str:
    types = {"org_id": "String", "call_key": "String", "start_ns": "Int64", "trace_id": "String", "span_id": "String"}
    return f"Tuple({', '.join(types[c] for c in columns)})"


@dataclass(frozen=True, slots=True)
class _Erasure:
    session_id: str
    ns: int


def _near(records: Sequence[LlmCallRecord] | Sequence[ToolCallRecord], version: int, slack: int) -> Ranges:
    """Where the other versions or sightings of these calls lie: within a day of their times; for a tool
    sighting without a time, within a day of its call's time, itself within a day of the write."""
    times = [r.time_ns for r in records if r.time_ns is not None]
    spans = [(min(times), max(times) + 1)] if times else []
    if len(times) < len(records):
        spans.append((version - slack, version + 1))
    return Ranges.of(*spans).widened(slack)


def _session_links(spans: Sequence[SpanRecord]) -> dict[str, str]:
    """The task each session is linked to by its first execute span with one (the Store then links the session's
    spans without a task to it)."""
    out: dict[str, str] = {}
    for s in spans:
        if s.name in EXECUTE_SPAN_NAMES and s.session_id and s.links.task_id:
            out.setdefault(s.session_id, s.links.task_id)
    return out
