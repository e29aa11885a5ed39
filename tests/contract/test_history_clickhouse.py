"""The telemetry history on ClickHouse (embedded chdb): versioned idempotent schema, replays that change nothing,
rewritten LLM and tool calls read once with their newest fields, tool placeholders adopted by their real ids, the
retention TTL, and org isolation."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.adapters.clickhouse import history_schema as schema
from core.adapters.clickhouse.connection import ASYNC_BELOW, AnalyticsConnection
from core.adapters.clickhouse.history import ClickHouseHistory
from core.adapters.clickhouse.insights import ClickHouseFactInsights
from core.insights.window import to_ns
from core.ports.fact_insights import SessionRollupRow
from core.ports.insights import InsightFilter
from core.pricing import PriceTable
from core.records import (
    Batch,
    EventRecord,
    Links,
    LlmCallRecord,
    MetricPointRecord,
    SessionRecord,
    SpanRecord,
    ToolCallRecord,
    Usage,
)
from core.reprice import reprice

T = to_ns(datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
H = 3600 * 10**9
DAY = 24 * H
WINDOW = InsightFilter(T - 30 * DAY, T + DAY)


@pytest.fixture
def facts(conn: AnalyticsConnection) -> ClickHouseFactInsights:
    return ClickHouseFactInsights(conn)


def rows(conn: AnalyticsConnection, sql: str) -> list[tuple[object, ...]]:
    return [tuple(r) for r in conn.client.query(sql.replace("{db}", conn.database)).result_rows]


def span(sid: str, t: int, session: str | None = "s1", model: str | None = None) -> SpanRecord:
    return SpanRecord("tr1", sid, None, "op", "internal", "ok", None, t, t + 5_000_000, session, "claude-code",
                      "claude_code", "/src/a", Usage(model=model, provider="claude" if model else None, tokens_in=3),
                      Links(task_id="task-1"), '{"a":1}', '{"service.name":"claude-code"}', None)


def call(key: str, t: int, tokens_out: int, model: str = "claude-sonnet-4-5", session: str = "s1",
         cost: float = 0.5) -> LlmCallRecord:
    return LlmCallRecord(key, session, t, 100.0, Usage(model=model, provider="claude", tokens_in=10,
                                                      tokens_out=tokens_out, provided_cost_usd=cost),
                         trace_id="tr1", span_id="01", source="span")


def batch(org: str = "acme") -> Batch:
    return Batch(
        org,
        spans=[span("01", T, model="claude-sonnet-4-5"), span("02", T + 1)],
        events=[EventRecord("ev1", "claude_code.api_error", "claude_code", T + 2, "s1", None, None, None, None,
                            None, "{}", "{}"),
                EventRecord("ev2", "claude_code.user_prompt", "claude_code", T + 3, "s1", "p1", None, None, None,
                            "prompt", "{}", "{}")],
        llm_calls=[call("span:tr1:01", T + 5, 20)],
        tool_calls=[ToolCallRecord("toolu-1", "s1", tool_name="Bash", time_ns=T + 6, success=False,
                                   trace_id="tr1", span_id="02")],
        metric_points=[MetricPointRecord("series-1", "claude_code.token.usage", "sum", "delta", T - 60 * 10**9, T,
                                         42.0, "s1", "claude-sonnet-4-5", "output", "{}", "{}")],
        sessions={"s1": SessionRecord("s1", T, T + H, service_name="claude-code", source_type="claude_code",
                                      workspace="/src/a", models={"claude-sonnet-4-5"})},
    )


def test_the_schema_is_versioned_and_applying_it_twice_changes_nothing(conn: AnalyticsConnection) -> None:
    ClickHouseHistory(conn)
    ClickHouseHistory(conn)
    assert conn.migrate(schema.migrations()) == []
    for statement in schema.migrations()[0].statements:  # every statement is idempotent on its own
        conn.client.command(statement.replace("{db}", f"`{conn.database}`"))
    tables = dict(rows(conn, "SELECT name, create_table_query FROM system.tables WHERE database = '{db}'"))
    for table in schema.HISTORY_TABLES:
        ddl = str(tables[table])
        assert "ORDER BY (org_id," in ddl and "ttl_only_drop_parts = 1" in ddl, table
        assert "toIntervalDay(400)" in ddl, table
    assert "bloom_filter" in str(tables[schema.SPANS]) and "PARTITION BY toYYYYMM" in str(tables[schema.SPANS])
    schema.apply_retention(conn, 30)
    schema.apply_retention(conn, 30)
    tables = dict(rows(conn, "SELECT name, create_table_query FROM system.tables WHERE database = '{db}'"))
    assert all("toIntervalDay(30)" in str(tables[t]) for t in schema.HISTORY_TABLES)


def test_the_upgrade_stores_resources_as_a_dictionary_and_keeps_the_rows(history: ClickHouseHistory,
                                                                        conn: AnalyticsConnection) -> None:
    # As before migration 104: resource attributes as compressed text.
    for table in (schema.SPANS, schema.EVENTS, schema.METRIC_POINTS):
        conn.client.command(f"ALTER TABLE {conn.database}.{table} MODIFY COLUMN resource_attributes "
                            "String CODEC(ZSTD(1))")
    conn.client.command(f"DELETE FROM {conn.database}.schema_version WHERE version = 104")
    history.export("acme", batch(), version_ns=T)
    before = rows(conn, "SELECT span_id, resource_attributes FROM {db}.telemetry_spans FINAL ORDER BY span_id")
    assert before and all(r[1] for r in before)
    ClickHouseHistory(conn)
    types = rows(conn, "SELECT DISTINCT type FROM system.columns WHERE database = '{db}' "
                       "AND name = 'resource_attributes'")
    assert types == [("LowCardinality(String)",)]
    assert rows(conn, "SELECT span_id, resource_attributes FROM {db}.telemetry_spans FINAL ORDER BY span_id") == before


def test_the_engine_derives_costs_and_durations_as_the_records_do(history: ClickHouseHistory,
                                                                   conn: AnalyticsConnection) -> None:
    # As before migration 105: the columns had no default (the export sent them).
    for table, column in ((schema.SPANS, "duration_ms"), (schema.SPANS, "cost_usd"), (schema.LLM_CALLS, "cost_usd")):
        conn.client.command(f"ALTER TABLE {conn.database}.{table} MODIFY COLUMN {column} REMOVE DEFAULT")
    conn.client.command(f"DELETE FROM {conn.database}.schema_version WHERE version = 105")
    ClickHouseHistory(conn)
    priced = span("03", T + 7, model="claude-sonnet-4-5")
    priced.usage.computed_cost_usd = 0.25
    unfinished = span("04", T + 8)
    unfinished.end_ns = 0
    calls = [call("k-provided", T + 5, 20, cost=0.5), call("k-computed", T + 6, 20)]
    calls[1].usage.provided_cost_usd, calls[1].usage.computed_cost_usd = None, 0.125
    spans = [span("01", T), priced, unfinished]
    spans[0].usage.provided_cost_usd, spans[0].usage.computed_cost_usd = 0.75, 0.25  # provided wins
    history.export("acme", Batch("acme", spans=spans, llm_calls=calls), version_ns=T)
    assert rows(conn, "SELECT span_id, duration_ms, cost_usd FROM {db}.telemetry_spans FINAL ORDER BY span_id") == [
        (s.span_id, s.duration_ms, s.usage.cost_usd) for s in spans]
    assert rows(conn, "SELECT call_key, cost_usd FROM {db}.telemetry_llm_calls FINAL ORDER BY call_key") == [
        (c.call_key, c.usage.cost_usd) for c in sorted(calls, key=lambda c: c.call_key)]
    assert [s.usage.cost_usd for s in spans] == [0.75, 0.25, 0.0] and spans[2].duration_ms == 0.0


def _counts(conn: AnalyticsConnection) -> dict[str, int]:
    return {t: int(rows(conn, f"SELECT count() FROM {{db}}.{t} FINAL")[0][0]) for t in schema.TABLES
            if t != schema.SESSION_ROLLUPS}


def test_a_replayed_batch_changes_nothing(history: ClickHouseHistory, facts: ClickHouseFactInsights,
                                          conn: AnalyticsConnection) -> None:
    history.export("acme", batch(), version_ns=T + 10)
    first = facts.insight_totals("acme", WINDOW, [])
    stored = _counts(conn)
    assert stored == {schema.SPANS: 2, schema.EVENTS: 2, schema.LLM_CALLS: 1, schema.TOOL_CALLS: 1,
                      schema.METRIC_POINTS: 1, schema.SESSIONS: 1}
    raw_spans = rows(conn, "SELECT count() FROM {db}.telemetry_spans")[0][0]
    history.export("acme", batch(), version_ns=T + 10)  # a redelivery: the engine drops the same insert
    assert rows(conn, "SELECT count() FROM {db}.telemetry_spans")[0][0] == raw_spans
    for version in (T + 20, T + 30):  # the same request ingested again later: new versions, same facts
        history.export("acme", batch(), version_ns=version)
    assert _counts(conn) == stored
    again = facts.insight_totals("acme", WINDOW, [])
    assert again == first
    assert (again.calls.calls, again.spans, again.tool_calls, again.failed_tool_calls, again.api_errors) == (
        1, 2, 1, 1, 1)
    assert (again.calls.tokens_out, again.calls.sessions) == (20, 1)


def test_the_deduplication_token_digests_the_keys_as_one_join_of_them_all() -> None:
    """The token of an insert must not change between releases: a message exported before an upgrade and
    redelivered after it is then still dropped by the engine."""
    import hashlib

    from core.adapters.clickhouse.history import _keys_digest

    for first, second in ((["t1", "t2"], ["s1", "s2"]), ([], ["s"]), (["t"], []), ([""], ["s"]),
                          (["sid", None], [1, 2]), ([], [])):
        joined = "\0".join(map(str, [*first, *second]))
        assert _keys_digest(first, second) == hashlib.blake2b(joined.encode(), digest_size=16).hexdigest()


def test_a_small_export_goes_as_async_inserts_a_large_one_does_not(history: ClickHouseHistory,
                                                                   conn: AnalyticsConnection,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # Embedded ClickHouse inserts either at once (it has no async insert queue to observe); what a server is asked
    # to do is checked here: one Pub/Sub message's rows are coalesced server-side, a delivery of thousands is not.
    seen: list[tuple[str, int, dict[str, object]]] = []
    client_type = type(conn.client)  # every thread's client: the inserts run on the insert pool's own handles
    insert = client_type.insert

    def recording(client: object, table: str, data: list[list[object]], **kwargs: Any) -> object:
        seen.append((table.split(".")[-1], len(data[0]), dict(kwargs["settings"])))
        return insert(client, table, data, **kwargs)

    monkeypatch.setattr(client_type, "insert", recording)
    history.export("acme", batch(), version_ns=T + 10)
    big = Batch("acme", spans=[span(f"{i:04x}", T + i) for i in range(ASYNC_BELOW)])
    history.export("acme", big, version_ns=T + 20)
    small = [settings for table, _, settings in seen[:-1]]
    assert len(small) == 6 and all(s["async_insert"] == 1 and s["wait_for_async_insert"] == 1 for s in small)
    assert seen[-1][:2] == (schema.SPANS, ASYNC_BELOW) and seen[-1][2]["async_insert"] == 0
    assert rows(conn, "SELECT count() FROM {db}.telemetry_spans FINAL")[0][0] == ASYNC_BELOW + 2


def test_an_export_and_its_sweep_set_no_setting_beside_a_statement(history: ClickHouseHistory,
                                                                   conn: AnalyticsConnection,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # A setting passed beside a command costs the embedded client three more engine calls (read system.settings,
    # SET, restore), on every slot mark and recompute; the statements carry their settings in their text instead.
    beside: list[str] = []
    client_type = type(conn.client)  # every thread's client: the slot marks run on the insert pool's handles
    command = client_type.command

    def recording(client: object, cmd: str, *args: Any, **kwargs: Any) -> object:
        if kwargs.get("settings"):
            beside.append(cmd.split("(")[0])
        return command(client, cmd, *args, **kwargs)

    monkeypatch.setattr(client_type, "command", recording)
    history.export("acme", batch(), version_ns=T + 10)
    assert history.settle_slots("acme") == 0  # the export swept its slots
    history.export("acme", batch(), version_ns=T + 20)  # marks its slots again
    assert history.settle_slots("acme") > 0
    assert beside == []


def test_a_rewritten_llm_call_is_read_once_with_its_newest_fields(history: ClickHouseHistory,
                                                                 facts: ClickHouseFactInsights,
                                                                 conn: AnalyticsConnection) -> None:
    # The span reports the call first; its event arrives later with another time (in the next month, the sightings
    # of a call lie within a day of each other) and the join rewrites the stored call under the same key.
    march, april = to_ns(datetime(2026, 3, 31, 23, 58, tzinfo=UTC)), to_ns(datetime(2026, 4, 1, 0, 0, 1, tzinfo=UTC))
    v1, v2 = to_ns(datetime(2026, 3, 31, 23, 59, tzinfo=UTC)), to_ns(datetime(2026, 4, 1, 0, 1, tzinfo=UTC))
    sessions = {"s1": SessionRecord("s1", march, april, source_type="claude_code")}
    history.export("acme", Batch("acme", llm_calls=[call("req:r1", march, 20)], sessions=sessions), version_ns=v1)
    history.export("acme", Batch("acme", llm_calls=[call("req:r1", april, 30, model="claude-opus-4-5", cost=2.0)],
                                 sessions=sessions), version_ns=v2)
    # A late redelivery of the first write changes nothing: its version is older.
    history.export("acme", Batch("acme", llm_calls=[call("req:r1", march, 20)], sessions=sessions), version_ns=v1)
    both = InsightFilter(march - DAY, april + DAY)
    totals = facts.insight_totals("acme", both, [])
    assert (totals.calls.calls, totals.calls.tokens_out, totals.calls.cost_usd) == (1, 30, 2.0)
    assert {g.key for g in facts.insight_groups("acme", both, "model", [])} == {"claude-opus-4-5"}
    assert facts.insight_totals("acme", InsightFilter(march - DAY, march + 60 * 10**9), []).calls.calls == 0
    # Each version stays in the partition of its own write.
    parts = rows(conn, "SELECT _partition_id, version FROM {db}.telemetry_llm_calls ORDER BY version")
    assert sorted(set(parts)) == [("202603", v1), ("202604", v2)]


def test_a_span_reported_twice_in_a_batch_keeps_the_links_of_the_earlier_report(
        history: ClickHouseHistory, facts: ClickHouseFactInsights, conn: AnalyticsConnection) -> None:
    # As the Store's upsert keeps it: the last report, with the task an earlier report named where it names none.
    linked = span("01", T)
    again = span("01", T)
    again.name, again.session_id, again.links, again.workspace = "chat", "s2", Links(), ""
    history.export("acme", Batch("acme", spans=[linked, again]), version_ns=T)
    assert rows(conn, "SELECT name, session_id, task_id, workspace FROM {db}.telemetry_spans FINAL") == [
        ("chat", "s2", "task-1", "/src/a")]
    day = (T - T % DAY, T - T % DAY + DAY)
    assert facts.insight_days("acme", InsightFilter(*day), [day], [])[0].tasks == 1


def test_tool_call_sources_fill_fields_and_the_earliest_time_wins(history: ClickHouseHistory,
                                                                 facts: ClickHouseFactInsights,
                                                                 conn: AnalyticsConnection) -> None:
    sessions = {"s1": SessionRecord("s1", T - H, T + H, source_type="claude_code")}
    decision = ToolCallRecord("toolu-9", "s1", decision="accept")  # no time yet
    result = ToolCallRecord("toolu-9", None, time_ns=T + 30 * 10**9, success=False, duration_ms=12.0)
    started = ToolCallRecord("toolu-9", "s1", tool_name="Bash", time_ns=T, trace_id="tr1", span_id="05")
    for i, tool in enumerate((decision, result, started)):
        history.export("acme", Batch("acme", tool_calls=[tool], sessions=sessions), version_ns=T + i)
    history.export("acme", Batch("acme", tool_calls=[decision]), version_ns=T)  # a late redelivery
    merged = rows(conn, "SELECT tool_use_id, tupleElement(tool_name, 2), time_ns, tupleElement(success, 2), "
                        "tupleElement(decision, 2), tupleElement(duration_ms, 2), tupleElement(session_id, 2) "
                        "FROM {db}.telemetry_tool_calls FINAL")
    assert merged == [("toolu-9", "Bash", T, 0, "accept", 12.0, "s1")]
    t = facts.insight_totals("acme", InsightFilter(T, T + 10**9), [])
    assert (t.tool_calls, t.failed_tool_calls) == (1, 1)
    assert facts.insight_totals("acme", InsightFilter(T + 10**9, T + H), []).tool_calls == 0


def test_a_tool_placeholder_is_adopted_by_its_real_id_in_either_order(history: ClickHouseHistory,
                                                                      facts: ClickHouseFactInsights) -> None:
    sessions = {"s1": SessionRecord("s1", T - H, T + H, source_type="claude_code")}
    placeholder = ToolCallRecord("span:tr1:07", "s1", tool_name="Bash", time_ns=T, trace_id="tr1", span_id="07")
    real = ToolCallRecord("toolu-7", "s1", time_ns=T + 10**9, success=False, trace_id="tr1", span_id="07")
    history.export("acme", Batch("acme", tool_calls=[placeholder], sessions=sessions), version_ns=T)
    history.export("acme", Batch("acme", tool_calls=[real]), version_ns=T + 1)
    history.export("globex", Batch("globex", tool_calls=[real], sessions=sessions), version_ns=T + 1)
    history.export("globex", Batch("globex", tool_calls=[placeholder]), version_ns=T + 2)
    for org in ("acme", "globex"):
        t = facts.insight_totals(org, InsightFilter(T, T + H), [])
        assert (t.tool_calls, t.failed_tool_calls) == (1, 1), org
        # The placeholder's earlier start is the call's time.
        assert facts.insight_totals(org, InsightFilter(T, T + 1), []).tool_calls == 1, org


def test_session_rollups_keep_the_newest_recompute(history: ClickHouseHistory,
                                                   facts: ClickHouseFactInsights) -> None:
    history.export("acme", batch(), version_ns=T)
    history.export_session_rollups("acme", [SessionRollupRow("s1", 10, 2, 1, 1, 5000, computed_ns=T + 2)])
    history.export_session_rollups("acme", [SessionRollupRow("s1", 3, 1, 0, 0, 100, computed_ns=T + 1)])
    t = facts.insight_totals("acme", WINDOW, [])
    assert (t.lines_added, t.lines_removed, t.commits, t.pull_requests, t.active_time_ms) == (10, 2, 1, 1, 5000)
    outside = facts.insight_totals("acme", InsightFilter(T + 2 * H, T + 3 * H), [])
    assert outside.lines_added == 0  # the session was not active then


def test_rows_past_the_retention_are_dropped(history: ClickHouseHistory, conn: AnalyticsConnection) -> None:
    old = T - 500 * DAY
    history.export("acme", Batch("acme", spans=[span("01", old)], llm_calls=[call("req:old", old, 5)]),
                   version_ns=old)
    history.export("acme", batch(), version_ns=T)
    for table in (schema.SPANS, schema.LLM_CALLS):
        conn.client.command(f"OPTIMIZE TABLE `{conn.database}`.{table} FINAL")
    assert rows(conn, "SELECT span_id FROM {db}.telemetry_spans FINAL ORDER BY span_id") == [("01",), ("02",)]
    assert rows(conn, "SELECT min(start_ns) FROM {db}.telemetry_spans")[0][0] == T
    assert rows(conn, "SELECT call_key FROM {db}.telemetry_llm_calls FINAL") == [("span:tr1:01",)]


def test_every_read_and_write_stays_inside_its_org(history: ClickHouseHistory,
                                                   facts: ClickHouseFactInsights) -> None:
    history.export("acme", batch("acme"), version_ns=T)
    other = batch("globex")
    other.llm_calls = [call("span:tr1:01", T + 5, 99, model="gpt-5", cost=9.0)]
    other.sessions["s1"].source_type = "eval"
    history.export("globex", other, version_ns=T + 1)
    history.export_session_rollups("globex", [SessionRollupRow("s1", 50, 0, 0, 0, 0, computed_ns=T + 5)])
    acme = facts.insight_totals("acme", WINDOW, [])
    globex = facts.insight_totals("globex", WINDOW, [])
    assert (acme.calls.tokens_out, acme.calls.cost_usd, acme.lines_added) == (20, 0.5, 0)
    assert (globex.calls.tokens_out, globex.calls.cost_usd, globex.lines_added) == (99, 9.0, 50)
    assert {g.key for g in facts.insight_groups("acme", WINDOW, "source_type", [])} == {"claude_code"}
    assert {g.key for g in facts.insight_groups("globex", WINDOW, "source_type", [])} == {"eval"}
    assert facts.insight_totals("initech", WINDOW, []).spans == 0
    assert facts.insight_groups("initech", WINDOW, "model", []) == []
    [day] = facts.insight_days("initech", WINDOW, [(WINDOW.start_ns, WINDOW.end_ns)], [])
    assert (day.calls.calls, day.spans, day.tool_calls, day.api_errors) == (0, 0, 0, 0)
    assert facts.task_ids("globex", InsightFilter(WINDOW.start_ns, WINDOW.end_ns, source_type="eval"), []) == {
        "task-1"}
    assert facts.task_ids("acme", InsightFilter(WINDOW.start_ns, WINDOW.end_ns, source_type="eval"), []) == set()


def test_an_erased_session_loses_every_row_and_calls_naming_its_spans(history: ClickHouseHistory,
                                                                      conn: AnalyticsConnection) -> None:
    b = batch()
    # Reported without a session, but naming a span of s1: the Store's purge takes them too.
    b.llm_calls.append(LlmCallRecord("req:orphan", None, T + 7, 5.0, Usage(model="claude-sonnet-4-5", tokens_in=1),
                                     trace_id="tr1", span_id="02", source="event"))
    b.tool_calls.append(ToolCallRecord("toolu-orphan", None, tool_name="Read", time_ns=T + 8, trace_id="tr1",
                                       span_id="01"))
    history.export("acme", b, version_ns=T)
    history.export("globex", batch("globex"), version_ns=T)
    history.export_session_rollups("acme", [SessionRollupRow("s1", 1, 2, 3, 4, 5, T)])
    history.erase_session("acme", "s1", T + DAY)
    def counts(org: str) -> dict[str, int]:
        return {t: int(rows(conn, f"SELECT count() FROM {{db}}.{t} FINAL WHERE org_id = '{org}'")[0][0])
                for t in schema.TABLES}

    assert [counts(org) for org in ("acme", "globex")] == [
        dict.fromkeys(schema.TABLES, 0), {**dict.fromkeys(schema.TABLES, 1), schema.SPANS: 2, schema.EVENTS: 2,
                                          schema.SESSION_ROLLUPS: 0}]
    assert history.erased_sessions("acme", ["s1", "s2"]) == {"s1": T + DAY}
    assert history.erased_sessions("globex", ["s1"]) == {}
    history.erase_session("acme", "s1", T + 2 * DAY)  # again: nothing left to delete, the newest time is kept
    assert history.erased_sessions("acme", ["s1"]) == {"s1": T + 2 * DAY}


def test_reprice_rewrites_the_costs_the_history_keeps(history: ClickHouseHistory, facts: ClickHouseFactInsights,
                                                      conn: AnalyticsConnection, tmp_path: Path) -> None:
    prices = tmp_path / "prices.override.json"
    prices.write_text(json.dumps({"version": 1, "models": {"acme-coder-1": {
        "input": 2.0, "output": 8.0, "cache_read": 0.2, "cache_write": 2.5,
        "source": "https://example.com/acme/pricing", "as_of": "2026-01-15"}}}))
    unpriced = Usage(model="acme-coder-1", provider="acme", tokens_in=1000, tokens_out=200, cache_read_tokens=500,
                     unpriced=True)
    provided = Usage(model="acme-coder-1", provider="acme", tokens_in=100, tokens_out=10, provided_cost_usd=0.5,
                     unpriced=True)
    history.export("acme", Batch("acme", spans=[span("01", T, model="acme-coder-1")], llm_calls=[
        LlmCallRecord("req:a", "s1", T + 5, 100.0, unpriced, source="event"),
        LlmCallRecord("req:b", "s1", T + 6, 100.0, provided, source="event")]), version_ns=T)
    assert facts.insight_totals("acme", WINDOW, []).calls.unpriced_calls == 2

    counts = reprice(history, PriceTable.load(str(prices)), chunk=2)
    assert counts == {"llm_calls": 2, "spans": 1, "unpriced": 0}
    calls = dict((r[0], r[1:]) for r in rows(conn, "SELECT call_key, computed_cost_usd, cost_usd, cache_savings_usd, "
                                                   "unpriced, tokens_in FROM {db}.telemetry_llm_calls FINAL"))
    # (1000 * 2.0 + 200 * 8.0 + 500 * 0.2) / 1e6; savings 500 * (2.0 - 0.2) / 1e6; every other column kept
    assert calls["req:a"] == pytest.approx((0.0037, 0.0037, 0.0009, False, 1000))
    assert calls["req:b"] == pytest.approx((0.00028, 0.5, 0.0, False, 100))  # a provided cost still wins
    assert rows(conn, "SELECT computed_cost_usd, unpriced, attributes FROM {db}.telemetry_spans FINAL") == [
        (pytest.approx(3 * 2.0 / 1e6), False, '{"a":1}')]
    totals = facts.insight_totals("acme", WINDOW, [])
    assert totals.calls.unpriced_calls == 0 and totals.calls.cost_usd == pytest.approx(0.5037)
