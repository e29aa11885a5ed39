"""Slot sums: the history facts the insights count, pre-summed per 15-minute slot, session and dimension, recomputed
from the history tables when a write touches a slot, and read back as the insights' source of facts.

Why: an insight over a month read every LLM call, span, tool call and API error of the month with FINAL (or a
GROUP BY over millions of tool ids), seconds at ten million rows. The sums of a month are a few thousand rows.

How it stays exact:
- A family (LLM calls, spans, tool calls, API errors) defines its *records*: the newest version of each fact in a
  time range, as one row of group keys (session, model, the span a session-less record names, ...) and counts.
  Sums per slot are those rows grouped by slot and keys; a read sums them further by bucket, exactly as it would
  sum the records, so a read from sums and a read from records agree by construction.
- Each family has a table of one row per (org, slot): the slot's groups as an array, `ReplacingMergeTree
  (computed_ns)`, so a recompute replaces the whole slot, empty groups included (a fact that moved out of it).
- A write marks the slots it touched (`telemetry_slot_marks`, the server's time after the write landed); a sweep
  recomputes the org's dirty slots (`INSERT .. SELECT`; `computed_ns` is the server's time the statement started,
  copied beside the marks by a view). A slot is *clean* when its sums were computed after its last mark: they then
  saw every write marked before.
  Reads take clean slots from the sums and read the records of everything else (dirty slots and the window's
  unaligned edges) directly, so a read is exact whatever the sweeps did or failed to do.
- A process sweeps an org at most once per REFRESH_NS, after a write (under a steady stream the current slot is
  recomputed once a minute, not on every delivery; a bulk load recomputes each slot about once); erasure and
  repricing sweep at once, and `settle` on demand.
- The slots a write touches: spans and API-error events, the slots of their own times (facts never move); LLM
  calls and tool calls, whose time a later signal can change, the slots of every stored version or sighting of
  their keys (the old slot loses the call, the new one gains it).
- Sums are as old as the history: migration 103 computes every slot of the rows already stored.

Reading the records of a few slots (edges, dirty slots, a recompute) must not merge a whole table sorted by random
keys: LLM calls and tool calls are read from their time-sorted copies (`telemetry_call_times`,
`telemetry_tool_times`): the keys with a version or sighting in the ranges, then all of those keys' rows within a
day (calls) or two (tool sightings) of the ranges. That relies on the layout's assumptions (history_schema): the
versions and sightings of one call lie within a day of each other, and a sighting without a time (a decision
event) is written within a day of the call's time; it is filed under its write time.

Slots are 15 minutes because every UTC offset in use is a multiple of 15 minutes: day buckets in any zone start
on a slot boundary.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from core.adapters.clickhouse import history_schema as schema
from core.adapters.clickhouse.connection import AnalyticsConnection, Migration
from core.errors import StorageUnavailable
from core.ports.insights import API_ERROR_EVENTS

SLOT_NS = 15 * 60 * 10**9
REFRESH_NS = 60 * 10**9
# Slots per recompute statement: the records are read over the chunk's range (a primary-key range for spans).
_CHUNK = 96
_NOW = "toUInt64(toUnixTimestamp64Nano(now64(9)))"
_API_ERRORS = ", ".join(f"'{name}'" for name in API_ERROR_EVENTS)


def slot_of(ns: int) -> int:
    """The start of the slot a time falls in."""
    return ns - ns % SLOT_NS


def slot_sql(column: str) -> str:
    """SQL: the start of the slot of a time column (as slot_of)."""
    return f"({column} - positiveModulo({column}, {SLOT_NS}))"


@dataclass(frozen=True, slots=True)
class Ranges:
    """Which records a statement reads: times in any of these [lo, hi) ranges (sorted, disjoint)."""

    spans: tuple[tuple[int, int], ...]

    @staticmethod
    def of(*spans: tuple[int, int]) -> Ranges:
        merged: list[tuple[int, int]] = []
        for lo, hi in sorted(x for x in spans if x[0] < x[1]):
            if merged and lo <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
            else:
                merged.append((lo, hi))
        return Ranges(tuple(merged))

    @staticmethod
    def of_slots(slots: Iterable[int]) -> Ranges:
        return Ranges.of(*((s, s + SLOT_NS) for s in slots))

    def widened(self, ns: int) -> Ranges:
        return Ranges.of(*((lo - ns, hi + ns) for lo, hi in self.spans))

    def sql(self, column: str) -> str:
        if not self.spans:
            return "0"
        return "(" + " OR ".join(f"({column} >= {lo} AND {column} < {hi})" for lo, hi in self.spans) + ")"


EVERYTHING = Ranges(((-(2**62), 2**62),))


@dataclass(frozen=True, slots=True)
class Family:
    """One kind of fact the insights count: its records' group keys and counts, and its sums table."""

    name: str
    table: str
    keys: tuple[tuple[str, str], ...]  # (column, type)
    counts: tuple[tuple[str, str], ...]
    records: Callable[[str, bool, Ranges, bool], str]

    @property
    def columns(self) -> list[str]:
        return [c for c, _ in self.keys + self.counts]


def _org(alias: str, org: bool) -> str:
    return f"{alias}org_id = {{org:String}}" if org else "1"


def _written(ranges: Ranges) -> str:
    """Rewritable rows are partitioned by their write, at most a day before the time they report."""
    if ranges is EVERYTHING or not ranges.spans:
        return ""
    return f" AND r._partition_id >= '{schema.partition_id(ranges.spans[0][0] - schema.SLACK_NS)}'"


_CALL_COLUMNS = ", ".join(c for c, _ in schema.CALL_TIME_COLUMNS)
# The span a record without a session names (NULL for a record with one: reads never need it).
_REFS = ("if(r.session_id IS NULL, r.trace_id, NULL) AS ref_trace, "
         "if(r.session_id IS NULL, r.span_id, NULL) AS ref_span")


def _call_records(db: str, org: bool, ranges: Ranges, narrow: bool) -> str:
    """Wide: the newest version of every call by FINAL over the table sorted by key. Narrow: the keys with a
    version in the ranges from CALL_TIMES (sorted by time), then each key's newest version among its versions
    there, which lie within a day of each other (a primary-key range either way)."""
    if narrow:
        near = ranges.widened(schema.SLACK_NS)
        newest = ", ".join(f"tupleElement(v, {i + 2}) AS {c}" for i, (c, _) in enumerate(schema.CALL_TIME_COLUMNS))
        source = (f"(SELECT org_id, tupleElement(v, 1) AS time_ns, {newest} FROM (SELECT org_id, call_key, "
                  f"argMax(tuple(at_ns, {_CALL_COLUMNS}), version) AS v FROM {db}.{schema.CALL_TIMES} "
                  f"WHERE {_org('', org)} AND {near.sql('at_ns')} AND call_key IN (SELECT call_key "
                  f"FROM {db}.{schema.CALL_TIMES} WHERE {_org('', org)} AND {ranges.sql('at_ns')}) "
                  "GROUP BY org_id, call_key)) AS r")
        where = ranges.sql("r.time_ns")
    else:
        source = f"{db}.{schema.LLM_CALLS} AS r FINAL"
        where = f"{_org('r.', org)}{_written(ranges)} AND {ranges.sql('r.time_ns')}"
    return ("SELECT r.org_id AS org_id, r.time_ns AS t, r.session_id AS session_id, r.model AS model, "
            f"r.provider AS provider, {_REFS}, toUInt64(1) AS n, toUInt64(NOT r.success) AS "
            "failed, toUInt64(r.unpriced) AS unpriced, r.tokens_in AS t_in, r.tokens_out AS t_out, "
            "r.cache_read_tokens AS t_cr, r.cache_creation_tokens AS t_cc, r.reasoning_tokens AS t_rs, "
            "r.cost_usd AS cost, r.cache_savings_usd AS savings, ifNull(r.duration_ms, 0) AS dur, "
            "toUInt64(r.duration_ms IS NOT NULL) AS timed, toUInt64(r.span_id IS NOT NULL) AS spans "
            f"FROM {source} WHERE {where}")


def _span_records(db: str, org: bool, ranges: Ranges, narrow: bool) -> str:
    # Sorted by start: a time range is a primary-key range, narrow or not.
    return ("SELECT r.org_id AS org_id, r.start_ns AS t, r.session_id AS session_id, "
            "if(r.session_id IS NULL, r.source_type, NULL) AS own_source, "
            "if(r.session_id IS NULL, r.workspace, NULL) AS own_workspace, r.task_id AS task_id, r.model AS model, "
            "r.provider AS provider, toUInt64(1) AS n "
            f"FROM {db}.{schema.SPANS} AS r FINAL WHERE {_org('r.', org)} AND {ranges.sql('r.start_ns')}")


def _newest(column: str) -> str:
    return f"argMax(tupleElement({column}, 2), tupleElement({column}, 1))"


def _tool_records(db: str, org: bool, ranges: Ranges, narrow: bool) -> str:
    """Each call's sightings merged by GROUP BY (as FINAL would, across partitions): the newest present session
    (and span), the earliest time, the newest outcome. Wide: over the table sorted by id. Narrow: the ids with a
    sighting in the ranges from TOOL_TIMES (sorted by time; the merged time is a sighting's), merged from their
    sightings there, which lie within a day of each other (one without a time is sorted by its write, within a
    day of the call's time)."""
    if narrow:
        near = ranges.widened(2 * schema.SLACK_NS)
        source = (f"{db}.{schema.TOOL_TIMES} WHERE {_org('', org)} AND {near.sql('at_ns')} AND tool_use_id IN "
                  f"(SELECT tool_use_id FROM {db}.{schema.TOOL_TIMES} WHERE {_org('', org)} "
                  f"AND {ranges.sql('at_ns')} AND time_ns IS NOT NULL)")
    else:
        source = f"{db}.{schema.TOOL_CALLS} AS r WHERE {_org('', org)}{_written(ranges)}"
    merged = (f"SELECT org_id, {_newest('session_id')} AS m_session, max(tupleElement(session_id, 1)) AS m_seen, "
              f"min(time_ns) AS m_time, max(outcome) AS m_outcome, {_newest('trace_id')} AS m_trace, "
              f"{_newest('span_id')} AS m_span FROM {source} GROUP BY org_id, tool_use_id "
              # A record with neither a name nor an outcome is a placeholder, not a call (core.sessions).
              f"HAVING max(live) % 2 = 1 AND max(named) = 1 AND {ranges.sql('m_time')}")
    return ("SELECT org_id, assumeNotNull(m_time) AS t, if(m_seen = 0, NULL, m_session) AS session_id, "
            "if(m_seen = 0, m_trace, NULL) AS ref_trace, if(m_seen = 0, m_span, NULL) AS ref_span, "
            "toUInt64(1) AS n, toUInt64(m_outcome != 0 AND m_outcome % 2 = 0) AS failed "
            f"FROM ({merged})")


def _error_records(db: str, org: bool, ranges: Ranges, narrow: bool) -> str:
    return (f"SELECT r.org_id AS org_id, r.time_ns AS t, r.session_id AS session_id, {_REFS}, toUInt64(1) AS n "
            f"FROM {db}.{schema.EVENTS} AS r FINAL WHERE {_org('r.', org)} AND r.name IN ({_API_ERRORS}) "
            f"AND {ranges.sql('r.time_ns')}")


def _family(name: str, table: str, records: Callable[[str, bool, Ranges, bool], str]) -> Family:
    keys, counts = schema.SLOT_GROUPS[table]
    return Family(name, table, keys, counts, records)


CALLS = _family("calls", schema.CALL_SLOTS, _call_records)
SPANS = _family("spans", schema.SPAN_SLOTS, _span_records)
TOOLS = _family("tools", schema.TOOL_SLOTS, _tool_records)
ERRORS = _family("errors", schema.ERROR_SLOTS, _error_records)
FAMILIES = (CALLS, SPANS, TOOLS, ERRORS)


# -- schema ------------------------------------------------------------------------------------------------------
def _grouped(family: Family, records: str) -> str:
    """Records summed per org, slot and group keys."""
    keys = ", ".join(c for c, _ in family.keys)
    sums = ", ".join(f"sum({c}) AS {c}" for c, _ in family.counts)
    return (f"SELECT org_id, {slot_sql('t')} AS slot, {keys}, {sums} FROM ({records}) "
            f"GROUP BY org_id, slot, {keys}")


def backfill_migration() -> Migration:
    """The time-sorted copies and the sums of the rows already stored (the history tables came before them). Run
    twice (a crash before the migration is recorded), it changes no answer: a copied row again is a duplicate the
    merges absorb (the same version of a call, a sighting merged by max / min), a slot's sums are replaced."""
    calls = ", ".join(c for c, _ in schema.CALL_TIME_COLUMNS)
    tools = ", ".join(c for c, _ in schema.TOOL_TIME_COLUMNS)
    statements = [
        f"INSERT INTO {{db}}.{schema.CALL_TIMES} (org_id, at_ns, call_key, {calls}, version) "
        f"SELECT org_id, time_ns, call_key, {calls}, version FROM {{db}}.{schema.LLM_CALLS}",
        f"INSERT INTO {{db}}.{schema.TOOL_TIMES} (org_id, at_ns, tool_use_id, {tools}, version) "
        f"SELECT org_id, coalesce(time_ns, toInt64(version)), tool_use_id, {tools}, version "
        f"FROM {{db}}.{schema.TOOL_CALLS}"]
    for f in FAMILIES:
        tuples = ", ".join(f"g.{c}" for c in f.columns)
        statements.append(
            f"INSERT INTO {{db}}.{f.table} (org_id, slot_ns, groups, computed_ns) "
            f"SELECT g.org_id, g.slot, groupArray(tuple({tuples})), {_NOW} "
            f"FROM ({_grouped(f, f.records('{db}', False, EVERYTHING, False))}) AS g GROUP BY g.org_id, g.slot")
    return Migration(103, "telemetry history: time-sorted call copies and slot sums of the rows already stored",
                     tuple(statements))


def computed_marks_migration() -> Migration:
    """Each recompute of a slot also lands in the marks table as its `computed_ns` (a view on each sums table), so
    the dirty slots are one pass over one table (`SlotSums.dirty`) rather than a union of five. Created before the
    backfill of the sums already stored: a recompute in between is seen either way. Run twice, it changes nothing
    (the column and views exist; the backfill's maxima are the same)."""
    statements = [f"ALTER TABLE {{db}}.{schema.SLOT_MARKS} ADD COLUMN IF NOT EXISTS computed_ns "
                  "SimpleAggregateFunction(max, UInt64) DEFAULT 0"]
    for f in FAMILIES:
        statements.append(
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.{f.table}_computed TO {{db}}.{schema.SLOT_MARKS} AS "
            f"SELECT org_id, '{f.name}' AS family, slot_ns, toUInt64(0) AS marked_ns, computed_ns "
            f"FROM {{db}}.{f.table}")
    for f in FAMILIES:
        statements.append(
            f"INSERT INTO {{db}}.{schema.SLOT_MARKS} (org_id, family, slot_ns, marked_ns, computed_ns) "
            f"SELECT org_id, '{f.name}', slot_ns, 0, max(computed_ns) FROM {{db}}.{f.table} GROUP BY org_id, slot_ns")
    return Migration(106, "telemetry history: slot recomputes recorded beside the slot marks", tuple(statements))


# -- reads -------------------------------------------------------------------------------------------------------
def source(db: str, family: Family, lo: int, hi: int, slotted: bool, dirty: Iterable[int] = ()) -> str:
    """SQL: rows (org_id, t, keys..., counts...) whose sums per bucket are the family's facts in [lo, hi): the sums
    of the clean whole slots inside (t = the slot's start; ``slotted`` says the buckets' inner boundaries fall on
    slots) and the records of the rest (the unaligned edges and the ``dirty`` slots)."""
    first, last = -(-lo // SLOT_NS) * SLOT_NS, hi - hi % SLOT_NS
    if not slotted:
        return family.records(db, True, Ranges.of((lo, hi)), False)
    if first >= last:
        return family.records(db, True, Ranges.of((lo, hi)), True)
    stale = sorted(s for s in set(dirty) if first <= s < last)
    rest = Ranges.of((lo, first), (last, hi), *((s, s + SLOT_NS) for s in stale))
    skip = f" AND s.slot_ns NOT IN ({', '.join(str(s) for s in stale)})" if stale else ""
    # The groups' fields joined one subcolumn each: a statement reads only the fields it uses (4x less to read).
    fields = ", ".join(f"s.groups.{c} AS {c}" for c in family.columns)
    sums = (f"SELECT s.org_id AS org_id, s.slot_ns AS t, {', '.join(family.columns)} FROM {db}.{family.table} AS s "
            f"FINAL ARRAY JOIN {fields} WHERE s.org_id = {{org:String}} AND s.slot_ns >= {first} "
            f"AND s.slot_ns < {last}{skip}")
    if not rest.spans:
        return sums
    return f"{sums} UNION ALL {family.records(db, True, rest, True)}"


# Where the versions of an export's calls land, for `SlotSums.written`: (table, time column of the slot, time column
# the rows are bounded by, the key whose every version counts, a further condition).
_LANDED: dict[Family, tuple[str, str, str, str, str]] = {
    CALLS: (schema.CALL_TIMES, "at_ns", "at_ns", "call_key", ""),
    TOOLS: (schema.TOOL_TIMES, "time_ns", "at_ns", "tool_use_id", " AND time_ns IS NOT NULL"),
}


# -- writes ------------------------------------------------------------------------------------------------------
class SlotSums:
    """Marks, recomputes and reports the dirty slots of one AnalyticsConnection's history."""

    def __init__(self, conn: AnalyticsConnection) -> None:
        self._conn = conn
        self._db = conn.database
        self._swept: dict[str, float] = {}  # org -> monotonic time of this process's last sweep
        self._lock = threading.Lock()

    def _run(self, sql: str, params: dict[str, Any], read: bool = False) -> list[Sequence[Any]]:
        # The setting rides in the statement (it applies to the SELECT, where the joins are): passed beside a
        # command, the embedded engine's client would read system.settings, SET it, run the statement and restore
        # it, three more engine calls on every slot mark and recompute.
        sql = f"{sql} SETTINGS join_use_nulls = 0"
        try:
            if read:
                return list(self._conn.client.query(sql, parameters=params).result_rows)
            self._conn.client.command(sql, parameters=params)
            return []
        except Exception as exc:
            raise StorageUnavailable(f"telemetry history cannot take the slot sums: {type(exc).__name__}: "
                                     f"{str(exc)[:300]}") from exc

    def rows_slots(self, org_id: str, table: str, time: str, where: str, params: dict[str, Any]) -> set[int]:
        """The slots of the rows of ``table`` matching ``where`` (before they are deleted or rewritten)."""
        rows = self._run(f"SELECT DISTINCT {slot_sql(time)} FROM {self._db}.{table} WHERE org_id = {{org:String}} "
                         f"AND ({where}) AND {time} IS NOT NULL", {**params, "org": org_id}, read=True)
        return {int(r[0]) for r in rows}

    def mark(self, org_id: str, touched: dict[Family, set[int]]) -> None:
        """Mark the slots a write touched (the caller sweeps)."""
        marks = [(f.name, s) for f, slots in touched.items() for s in sorted(slots)]
        if marks:
            self._run(f"INSERT INTO {self._db}.{schema.SLOT_MARKS} (org_id, family, slot_ns, marked_ns) "
                      f"SELECT {{org:String}}, m.1, m.2, {_NOW} FROM (SELECT arrayJoin({{marks:Array(Tuple(String, "
                      "Int64))}) AS m)", {"org": org_id, "marks": marks})

    def touched(self, org_id: str, touched: dict[Family, set[int]], force: bool = False) -> None:
        """Mark the slots a write touched; then sweep if due (``sweep_if_due``)."""
        self.mark(org_id, touched)
        self.sweep_if_due(org_id, force)

    def written(self, org_id: str, versions: tuple[int, int], family: Family, near: Ranges) -> None:
        """Mark the slots of LLM calls or tool calls an export wrote: those of every stored version or timed
        sighting of the keys it wrote, old and new (a rewritten call leaves the slot it was counted in), found from
        the rows it landed (those of ``versions``, the inclusive range its rows carry). ``near`` bounds where the
        rows lie (the records' times, widened by the slack). One statement, no key list through the client: an
        export of thousands of calls spent more on sending their keys than on the lookup. Another export under the
        same version only adds slots: a slot marked needlessly is recomputed, never wrong. The caller sweeps
        (``sweep_if_due``). Spans and API errors are marked from their records' own times (`mark`)."""
        if not near.spans:
            return
        table, slot, near_column, key, condition = _LANDED[family]
        within = f"org_id = {{org:String}} AND {near.sql(near_column)}"
        mine = f"{within} AND version >= {int(versions[0])} AND version <= {int(versions[1])}"
        self._run(f"INSERT INTO {self._db}.{schema.SLOT_MARKS} (org_id, family, slot_ns, marked_ns) "
                  f"SELECT DISTINCT {{org:String}}, '{family.name}', {slot_sql(slot)}, {_NOW} "
                  f"FROM {self._db}.{table} WHERE {within}{condition} "
                  f"AND {key} IN (SELECT {key} FROM {self._db}.{table} WHERE {mine})", {"org": org_id})

    def sweep_if_due(self, org_id: str, force: bool = False) -> None:
        """Sweep the org's dirty slots if ``force`` or if this process has not swept them for REFRESH_NS (a stream
        of writes recomputes its current slot once a minute, a bulk load each slot about once)."""
        now = time.monotonic()
        with self._lock:
            due = force or now - self._swept.get(org_id, -1e18) >= REFRESH_NS / 1e9
            if due:
                self._swept[org_id] = now
        if due:
            self.settle(org_id)

    def dirty(self, org_id: str, lo: int | None = None, hi: int | None = None) -> dict[str, list[int]]:
        """Per family, the slots marked after their sums were last computed (in [lo, hi) when given)."""
        rng = ""
        if lo is not None and hi is not None:
            rng = f" AND slot_ns >= {int(lo)} AND slot_ns < {int(hi)}"
        # A slot's recomputes land beside its marks (computed_marks_migration): one table, grouped per slot.
        rows = self._run(
            f"SELECT family, slot_ns FROM {self._db}.{schema.SLOT_MARKS} WHERE org_id = {{org:String}}{rng} "
            "GROUP BY family, slot_ns HAVING max(marked_ns) >= max(computed_ns) ORDER BY family, slot_ns",
            {"org": org_id}, read=True)
        out: dict[str, list[int]] = {}
        for family, slot in rows:
            out.setdefault(str(family), []).append(int(slot))
        return out

    def settle(self, org_id: str) -> int:
        """Recompute every dirty slot of the org now; returns how many."""
        dirty = self.dirty(org_id)
        by_name = {f.name: f for f in FAMILIES}
        for name, slots in dirty.items():
            if name in by_name:
                self.recompute(org_id, by_name[name], slots)
        return sum(len(s) for s in dirty.values())

    def recompute(self, org_id: str, family: Family, slots: Iterable[int]) -> None:
        """Replace the sums of these slots with their records' sums now (an empty slot gets an empty row)."""
        ordered = sorted(set(slots))
        tuples = ", ".join(f"g.{c}" for c in family.columns)
        for i in range(0, len(ordered), _CHUNK):
            chunk = ordered[i:i + _CHUNK]
            records = family.records(self._db, True, Ranges.of_slots(chunk), True)
            self._run(
                f"INSERT INTO {self._db}.{family.table} (org_id, slot_ns, groups, computed_ns) "
                f"SELECT {{org:String}}, d.slot, groupArrayIf(tuple({tuples}), g.n > 0), {_NOW} "
                f"FROM (SELECT arrayJoin({{slots:Array(Int64)}}) AS slot) AS d "
                f"LEFT JOIN ({_grouped(family, records)}) AS g ON d.slot = g.slot GROUP BY d.slot",
                {"org": org_id, "slots": chunk})
