"""The insights' slot sums on ClickHouse (embedded chdb): reads take clean slots from the sums, dirty slots and
unaligned edges from the records; a call that moves slot leaves its old one; erasure and the upgrade's backfill
recompute them. Every read is compared with the same read from the records alone."""

from __future__ import annotations

from core.adapters.clickhouse import history_schema as schema
from core.adapters.clickhouse import slot_sums
from core.adapters.clickhouse.connection import AnalyticsConnection
from core.adapters.clickhouse.history import ClickHouseHistory
from core.adapters.clickhouse.insights import ClickHouseFactInsights
from core.ports.insights import DIMENSIONS, GroupTotals, InsightFilter
from core.records import Batch, LlmCallRecord, SessionRecord, ToolCallRecord, Usage
from tests.contract.test_history_clickhouse import DAY, WINDOW, H, T, batch, call, rows, span

SLOT = slot_sums.SLOT_NS
HOURS = [(T - DAY + i * H, T - DAY + (i + 1) * H) for i in range(48)]


def same_as_records(conn: AnalyticsConnection, org: str = "acme", window: InsightFilter = WINDOW) -> None:
    """Every insight read answers the same from the sums as from the records alone."""
    sums, records = ClickHouseFactInsights(conn), ClickHouseFactInsights(conn, slot_sums=False)
    for f in (window, InsightFilter(window.start_ns, window.end_ns, source_type="claude_code"),
              InsightFilter(window.start_ns, window.end_ns, provider="claude")):
        assert sums.insight_totals(org, f, []) == records.insight_totals(org, f, [])
        assert sums.insight_days(org, f, HOURS, []) == records.insight_days(org, f, HOURS, [])
        for dimension in DIMENSIONS:
            def by_key(groups: list[GroupTotals]) -> list[GroupTotals]:
                return sorted(groups, key=lambda g: g.key)  # in no particular order, as the port says
            assert by_key(sums.insight_groups(org, f, dimension, [])) == by_key(
                records.insight_groups(org, f, dimension, []))
        assert sums.task_ids(org, f, []) == records.task_ids(org, f, [])


def test_clean_slots_are_read_from_the_sums(history: ClickHouseHistory, conn: AnalyticsConnection) -> None:
    history.export("acme", batch(), version_ns=T)
    assert slot_sums.SlotSums(conn).dirty("acme") == {}
    same_as_records(conn)
    totals = ClickHouseFactInsights(conn).insight_totals("acme", WINDOW, [])
    assert (totals.calls.calls, totals.spans, totals.tool_calls, totals.api_errors) == (1, 2, 1, 1)
    # The records gone behind the sums' back: a read of whole clean slots still counts them (it reads the sums),
    # one from the records does not.
    for table in (schema.LLM_CALLS, schema.SPANS):
        conn.client.command(f"DELETE FROM {conn.database}.{table} WHERE 1")
    totals = ClickHouseFactInsights(conn).insight_totals("acme", WINDOW, [])
    assert (totals.calls.calls, totals.spans) == (1, 2)
    assert ClickHouseFactInsights(conn, slot_sums=False).insight_totals("acme", WINDOW, []).calls.calls == 0


def test_unaligned_edges_and_dirty_slots_are_read_from_the_records(history: ClickHouseHistory,
                                                                   conn: AnalyticsConnection) -> None:
    history.export("acme", batch(), version_ns=T)
    # Into the same slot right after its recompute: it stays dirty (recomputed at most once per REFRESH_NS).
    history.export("acme", Batch("acme", spans=[span("03", T + 7)], llm_calls=[call("req:2", T + 9, 5)]),
                   version_ns=T + 1)
    dirty = slot_sums.SlotSums(conn).dirty("acme")
    assert dirty == {"spans": [slot_sums.slot_of(T)], "calls": [slot_sums.slot_of(T)]}
    edges = InsightFilter(T + 3, T + SLOT + 11)  # starts and ends inside a slot
    totals = ClickHouseFactInsights(conn).insight_totals("acme", WINDOW, [])
    assert (totals.calls.calls, totals.spans) == (2, 3)
    assert ClickHouseFactInsights(conn).insight_totals("acme", edges, []).spans == 1
    same_as_records(conn)
    same_as_records(conn, window=edges)
    assert history.settle_slots("acme") == 2
    assert slot_sums.SlotSums(conn).dirty("acme") == {}
    same_as_records(conn)


def test_a_call_that_moves_slot_leaves_its_old_one(history: ClickHouseHistory, conn: AnalyticsConnection) -> None:
    history.export("acme", Batch("acme", llm_calls=[call("req:1", T + 5, 20)]), version_ns=T)
    # Its api_request event arrives later and gives it another time, two hours on.
    history.export("acme", Batch("acme", llm_calls=[call("req:1", T + 2 * H, 25)]), version_ns=T + 2 * H)
    history.settle_slots("acme")
    days = ClickHouseFactInsights(conn).insight_days("acme", WINDOW, HOURS, [])
    assert [(d.start_ns, d.calls.calls, d.calls.tokens_out) for d in days if d.calls.calls] == [(T + 2 * H, 1, 25)]
    same_as_records(conn)


def test_a_tool_call_seen_earlier_later_leaves_its_old_slot(history: ClickHouseHistory,
                                                             conn: AnalyticsConnection) -> None:
    history.export("acme", Batch("acme", tool_calls=[
        ToolCallRecord("toolu-9", None, tool_name="Bash", time_ns=T + 2 * H, success=True)]), version_ns=T + 2 * H)
    # Its span, started 90 minutes before the result, arrives later: the earliest time wins.
    history.export("acme", Batch("acme", tool_calls=[ToolCallRecord("toolu-9", "s1", time_ns=T + H // 2)]),
                   version_ns=T + 3 * H)
    history.settle_slots("acme")
    # A sighting without a time (a decision, say) changes the outcome the slot of its earliest time counts.
    history.export("acme", Batch("acme", tool_calls=[ToolCallRecord("toolu-9", "s1", success=False)]),
                   version_ns=T + 4 * H)
    history.settle_slots("acme")
    days = ClickHouseFactInsights(conn).insight_days("acme", WINDOW, HOURS, [])
    assert [(d.start_ns, d.tool_calls, d.failed_tool_calls) for d in days if d.tool_calls] == [(T, 1, 1)]
    same_as_records(conn)


def test_an_erased_session_leaves_the_sums(history: ClickHouseHistory, conn: AnalyticsConnection) -> None:
    history.export("acme", batch(), version_ns=T)
    kept = call("req:s2", T + 3 * H, 7, session="s2")
    kept.trace_id = "tr2"  # not a span of s1's trace (a call naming one of s1's spans goes with s1)
    other = Batch("acme", spans=[span("09", T + 3 * H, session="s2")], llm_calls=[kept],
                  sessions={"s2": SessionRecord("s2", T + 3 * H, T + 3 * H, source_type="claude_code")})
    history.export("acme", other, version_ns=T + 3 * H)
    history.erase_session("acme", "s1", T + DAY)
    assert slot_sums.SlotSums(conn).dirty("acme") == {}
    totals = ClickHouseFactInsights(conn).insight_totals("acme", WINDOW, [])
    assert (totals.calls.calls, totals.spans, totals.tool_calls, totals.api_errors) == (1, 1, 0, 0)
    same_as_records(conn)


def test_the_upgrade_computes_the_sums_of_rows_already_stored(history: ClickHouseHistory,
                                                              conn: AnalyticsConnection) -> None:
    history.export("acme", batch(), version_ns=T)
    history.export("globex", batch("globex"), version_ns=T)
    history.export("acme", Batch("acme", llm_calls=[LlmCallRecord(
        "req:late", None, T + 5 * H, None, Usage(model="gpt-5", provider="openai", tokens_in=4), source="event")]),
        version_ns=T + 5 * H)
    # As before the sums existed: none stored, the backfill not applied.
    for table in schema.SLOT_TABLES:
        conn.client.command(f"TRUNCATE TABLE {conn.database}.{table}")
    conn.client.command(f"DELETE FROM {conn.database}.schema_version WHERE version = 103")
    assert ClickHouseFactInsights(conn).insight_totals("acme", WINDOW, []).calls.calls == 0
    ClickHouseHistory(conn)
    assert rows(conn, "SELECT count() FROM {db}.telemetry_call_slots") == [(3,)]
    for org in ("acme", "globex"):
        same_as_records(conn, org)
    assert ClickHouseFactInsights(conn).insight_totals("acme", WINDOW, []).calls.calls == 2


def test_the_upgrade_records_the_recomputes_already_made_beside_the_marks(history: ClickHouseHistory,
                                                                         conn: AnalyticsConnection) -> None:
    history.export("acme", batch(), version_ns=T)
    db, slot = conn.database, slot_sums.slot_of(T)
    # As before migration 106: no views copying recomputes into the marks, and a slot's only mark older than its
    # sums (the write they saw).
    for family in slot_sums.FAMILIES:
        conn.client.command(f"DROP VIEW {db}.{family.table}_computed")
    conn.client.command(f"TRUNCATE TABLE {db}.{schema.SLOT_MARKS}")
    conn.client.command(f"INSERT INTO {db}.{schema.SLOT_MARKS} (org_id, family, slot_ns, marked_ns) "
                        f"VALUES ('acme', 'calls', {slot}, 1)")
    conn.client.command(f"DELETE FROM {db}.schema_version WHERE version = 106")
    assert slot_sums.SlotSums(conn).dirty("acme") == {"calls": [slot]}  # the recompute is not seen yet
    ClickHouseHistory(conn)
    assert slot_sums.SlotSums(conn).dirty("acme") == {}
    same_as_records(conn)
    # Later recomputes land beside the marks again: a write dirties the slot, a sweep cleans it.
    sums = slot_sums.SlotSums(conn)
    sums.mark("acme", {slot_sums.CALLS: {slot}})
    assert sums.dirty("acme") == {"calls": [slot]}
    assert sums.settle("acme") == 1
    assert sums.dirty("acme") == {}
