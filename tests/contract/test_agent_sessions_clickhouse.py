"""The agent-session store on embedded ClickHouse: schema, idempotent writes, the seed's reads (pages, messages with
tool calls, git links, marks), search (Japanese and German included) and the analytics on a known fixture."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import core.adapters.clickhouse.session_search as search_module
from core.adapters.clickhouse.connection import AnalyticsConnection
from core.adapters.clickhouse.session_schema import TABLES
from core.adapters.clickhouse.session_store import ClickHouseAgentSessions
from core.agent_sessions.models import AgentMessage, AgentSession, AgentToolCall, GitLink
from core.agent_sessions.views import AnalyticsFilter, Pin, SearchQuery, SessionDelete, SessionFilter, Star
from core.errors import BadParameter, InvalidCursor, NotFound

ORG, OTHER = "acme", "globex"
T0 = datetime(2024, 3, 4, 9, 15, tzinfo=UTC)  # a Monday


@pytest.fixture
def store(conn: AnalyticsConnection) -> Iterator[ClickHouseAgentSessions]:
    # Fixed 2024 times: a retention long enough that the fixture is never past its TTL.
    s = ClickHouseAgentSessions(conn, ttl_days=36_500)
    s.ensure_schema()
    yield s


def sess(sid: str, at: datetime | None = T0, **kw: Any) -> AgentSession:
    base: dict[str, Any] = {"id": sid, "user_id": "ann@acme.io", "user_name": "Ann", "project_id": "git@x:acme/api",
                            "project_name": "api", "agent_type": "claude-code", "started_at": at,
                            "message_count": 2, "user_message_count": 1}
    return AgentSession(**(base | kw))


def msg(sid: str, ordinal: int, content: str = "", role: str = "user", **kw: Any) -> AgentMessage:
    return AgentMessage(session_id=sid, ordinal=ordinal, content=content, role=role, **kw)


def call(sid: str, ordinal: int, tuid: str, name: str = "Bash", **kw: Any) -> AgentToolCall:
    return AgentToolCall(session_id=sid, message_ordinal=ordinal, tool_use_id=tuid, tool_name=name, **kw)


def physical_rows(conn: AnalyticsConnection, table: str) -> int:
    return int(conn.client.query(f"SELECT count() FROM {conn.database}.{table}").result_rows[0][0])


def all_pages(store: ClickHouseAgentSessions, **filters: Any) -> tuple[list[str], set[int], int]:
    ids: list[str] = []
    totals: set[int] = set()
    cursor, pages = None, 0
    while True:
        page = store.list_sessions(ORG, SessionFilter.model_validate({**filters, "cursor": cursor}))
        ids += [s.id for s in page.sessions]
        totals.add(page.total)
        pages += 1
        if not page.next_cursor:
            return ids, totals, pages
        cursor = page.next_cursor


# --- schema --------------------------------------------------------------------------------------------------------


def test_schema_creation_is_idempotent_and_versioned(conn: AnalyticsConnection) -> None:
    store = ClickHouseAgentSessions(conn)
    assert store.ensure_schema() == [1, 2]
    assert store.ensure_schema() == []  # a second start changes nothing
    rows = conn.client.query(
        "SELECT name, partition_key, sorting_key, create_table_query FROM system.tables WHERE database = {db:String}",
        parameters={"db": conn.database}).result_rows
    tables = {r[0]: r for r in rows}
    assert set(TABLES) <= tables.keys()
    for name in TABLES:
        _, partition_key, sorting_key, ddl = tables[name]
        assert partition_key == "toYYYYMM(session_month)"
        assert sorting_key.startswith("org_id")
        assert "toIntervalMonth(1)" in ddl and "toIntervalDay(400)" in ddl and "ttl_only_drop_parts = 1" in ddl
    assert "ngrambf_v1" in tables["messages"][3] and "lowerUTF8(content)" in tables["messages"][3]
    versions = conn.client.query(f"SELECT version FROM {conn.database}.schema_version FINAL ORDER BY version")
    assert [r[0] for r in versions.result_rows] == [1, 2]


def test_retention_changes_every_table_once(conn: AnalyticsConnection) -> None:
    store = ClickHouseAgentSessions(conn)
    store.ensure_schema()
    assert sorted(store.apply_retention(30)) == sorted(TABLES)
    assert store.apply_retention(30) == []
    ddl = conn.client.query("SELECT create_table_query FROM system.tables WHERE database = {db:String} "
                            "AND name = 'messages'", parameters={"db": conn.database}).result_rows[0][0]
    assert "toIntervalDay(30)" in ddl


def test_rows_past_the_retention_are_not_kept(conn: AnalyticsConnection) -> None:
    store = ClickHouseAgentSessions(conn, ttl_days=30)
    store.ensure_schema()
    recent = datetime.now(UTC) - timedelta(days=2)
    old = datetime.now(UTC) - timedelta(days=90)
    store.write_batch(ORG, [sess("recent", recent), sess("old", old)],
                      [msg("recent", 0, "new"), msg("old", 0, "ancient")])
    store.write_batch(ORG, [], [], [], [])  # nothing: a no-op
    conn.client.command(f"OPTIMIZE TABLE {conn.database}.sessions FINAL")
    conn.client.command(f"OPTIMIZE TABLE {conn.database}.messages FINAL")
    assert [s.id for s in store.list_sessions(ORG, SessionFilter()).sessions] == ["recent"]
    assert store.session_messages(ORG, "old") == []


# --- writes --------------------------------------------------------------------------------------------------------


def _fixture_batch() -> tuple[list[AgentSession], list[AgentMessage], list[AgentToolCall], list[GitLink]]:
    sessions = [sess("s1"), sess("s2", T0 + timedelta(hours=1), user_id="bob@acme.io", user_name="Bob")]
    messages = [msg("s1", 0, "please fix the login"), msg("s1", 1, "done", role="assistant"),
                msg("s2", 0, "hello"), msg("s2", 1, "hi", role="assistant")]
    calls = [call("s1", 1, "tu-1", input_json='{"command": "git commit -m fix"}', result_content="[main abc1234] fix")]
    links = [GitLink(session_id="s1", commit_sha="abc1234def567", link_type="commit", confidence="high")]
    return sessions, messages, calls, links


def test_a_replayed_batch_changes_nothing(store: ClickHouseAgentSessions, conn: AnalyticsConnection) -> None:
    batch = _fixture_batch()
    store.write_batch(ORG, *batch)
    before = (store.list_sessions(ORG, SessionFilter()), store.session_messages(ORG, "s1"),
              store.session_git_links(ORG, "s1"), store.usage(ORG, AnalyticsFilter()),
              store.tools(ORG, AnalyticsFilter()), store.search(ORG, SearchQuery(q="fix")))
    for _ in range(3):
        store.write_batch(ORG, *batch)
    after = (store.list_sessions(ORG, SessionFilter()), store.session_messages(ORG, "s1"),
             store.session_git_links(ORG, "s1"), store.usage(ORG, AnalyticsFilter()),
             store.tools(ORG, AnalyticsFilter()), store.search(ORG, SearchQuery(q="fix")))
    assert after[0].sessions == before[0].sessions and after[0].total == 2
    assert after[1] == before[1]
    # facts compare equal; a link the source gave no detection time carries the time of its latest write
    assert [g.model_dump(exclude={"detected_at"}) for g in after[2]] == \
        [g.model_dump(exclude={"detected_at"}) for g in before[2]] and len(after[2]) == 1
    assert after[3] == before[3] and after[3][0].commit_count == 1
    assert after[4] == before[4] and after[4][0].usage_count == 1
    assert [(r.session_id, r.ordinal, r.role) for r in after[5].results] == \
        [(r.session_id, r.ordinal, r.role) for r in before[5].results] == [("s1", 0, "user"), ("s1", 1, "tool")]


def test_a_redelivered_batch_with_its_id_is_dropped_at_insert(store: ClickHouseAgentSessions,
                                                             conn: AnalyticsConnection) -> None:
    batch = _fixture_batch()
    store.write_batch(ORG, *batch, version=1_700_000_000_000, batch_id="req-1")
    counts = {t: physical_rows(conn, t) for t in ("sessions", "messages", "tool_calls", "git_links")}
    store.write_batch(ORG, *batch, version=1_700_000_000_000, batch_id="req-1")
    assert {t: physical_rows(conn, t) for t in counts} == counts == {
        "sessions": 2, "messages": 4, "tool_calls": 1, "git_links": 1}
    store.write_batch(ORG, *batch, version=1_700_000_000_001, batch_id="req-2")  # another request: stored again
    assert physical_rows(conn, "messages") == 8
    assert len(store.session_messages(ORG, "s1")) == 2  # ... and read once


def test_a_session_row_is_replaced_by_a_newer_version_only(store: ClickHouseAgentSessions) -> None:
    store.write_batch(ORG, [sess("s1", message_count=2)], version=100)
    store.write_batch(ORG, [sess("s1", message_count=9, ended_at=T0 + timedelta(hours=2))], version=200)
    store.write_batch(ORG, [sess("s1", message_count=5)], version=150)  # a late redelivery of an older write
    got = store.get_session(ORG, "s1")
    assert (got.message_count, got.ended_at) == (9, T0 + timedelta(hours=2))


def test_messages_append_by_ordinal_and_are_keyed_by_uuid(store: ClickHouseAgentSessions) -> None:
    store.write_batch(ORG, [sess("s1")], [msg("s1", 0, "one"), msg("s1", 1, "two", role="assistant", uuid="u-1")])
    assert store.last_ordinal(ORG, "s1") == 1
    store.write_batch(ORG, [sess("s1", message_count=4)],
                      [msg("s1", 2, "three"), msg("s1", 3, "four", role="assistant")])
    # the same message again (same uuid) with its final content: replaced, not added
    store.write_batch(ORG, [], [msg("s1", 1, "two, edited", role="assistant", uuid="u-1")])
    got = store.session_messages(ORG, "s1")
    assert [(m.ordinal, m.content, m.uuid) for m in got] == [
        (0, "one", ""), (1, "two, edited", "u-1"), (2, "three", ""), (3, "four", "")]
    assert store.last_ordinal(ORG, "s1") == 3
    assert store.last_ordinal(ORG, "unknown") is None
    assert got[1].content_length == len("two, edited")


def test_stored_ordinals_are_found_by_key_within_the_org(store: ClickHouseAgentSessions) -> None:
    store.write_batch(ORG, [sess("s1")], [msg("s1", 4, "hi", uuid="u-1"), msg("s1", 5, "no uuid")],
                      [call("s1", 4, "toolu-1")])
    store.write_batch("other-org", [sess("s1")], [msg("s1", 9, "theirs", uuid="u-2")], [call("s1", 9, "toolu-2")])
    assert store.message_ordinals(ORG, [("s1", "u-1"), ("s1", "u-2"), ("s2", "u-1")]) == {("s1", "u-1"): 4}
    assert store.tool_call_ordinals(ORG, [("s1", "toolu-1"), ("s1", "toolu-2")]) == {("s1", "toolu-1"): 4}
    assert store.message_ordinals(ORG, []) == {} and store.tool_call_ordinals("nobody", [("s1", "toolu-1")]) == {}
    store.write_batch(ORG, [sess("s3")], [msg("s3", 1_800_000_000, "from otlp")])
    assert store.sessions_with_ordinals_below(ORG, ["s1", "s3", "s4"], 1_000_000_000) == {"s1"}
    assert store.sessions_with_ordinals_below("other-org", ["s1", "s3"], 5) == set()


def test_a_session_keeps_its_partition_when_its_start_changes(store: ClickHouseAgentSessions,
                                                              conn: AnalyticsConnection) -> None:
    store.write_batch(ORG, [sess("s1", T0)], [msg("s1", 0, "a")])
    store.write_batch(ORG, [sess("s1", T0 - timedelta(days=60))], [msg("s1", 1, "b")])  # an earlier start: Jan
    parts = conn.client.query(f"SELECT DISTINCT _partition_id FROM {conn.database}.sessions "
                              "UNION DISTINCT SELECT DISTINCT _partition_id FROM "
                              f"{conn.database}.messages").result_rows
    assert parts == [("202403",)]  # the month of first sight, for the session and its messages
    conn.client.command(f"OPTIMIZE TABLE {conn.database}.sessions FINAL")
    assert physical_rows(conn, "sessions") == 1  # the versions merged: they share a partition
    assert store.get_session(ORG, "s1").started_at == T0 - timedelta(days=60)


def test_messages_before_their_session_fix_its_month(store: ClickHouseAgentSessions, conn: AnalyticsConnection) -> None:
    store.write_batch(ORG, [], [msg("s1", 0, "early", timestamp=T0 + timedelta(days=40))])  # April
    store.write_batch(ORG, [sess("s1", T0)], [])  # the session row (March start) comes later
    parts = conn.client.query(f"SELECT DISTINCT _partition_id FROM {conn.database}.sessions").result_rows
    assert parts == [("202404",)]
    assert [m.content for m in store.session_messages(ORG, "s1")] == ["early"]


def test_another_writer_reuses_the_registered_month(store: ClickHouseAgentSessions,
                                                    conn: AnalyticsConnection) -> None:
    store.write_batch(ORG, [sess("s1", T0)])
    elsewhere = ClickHouseAgentSessions(conn, ttl_days=36_500)  # another process: its own cache
    elsewhere.write_batch(ORG, [sess("s1", T0 - timedelta(days=60), message_count=7)], [msg("s1", 0, "x")])
    assert [s.message_count for s in store.list_sessions(ORG, SessionFilter()).sessions] == [7]
    assert [m.content for m in store.session_messages(ORG, "s1")] == ["x"]


def test_a_session_registered_under_two_months_is_written_under_the_oldest_and_read_whole(
        store: ClickHouseAgentSessions, conn: AnalyticsConnection) -> None:
    # What two writers racing on a new session leave behind: each registered a month, each wrote under its own.
    db = conn.database
    conn.client.command(f"INSERT INTO {db}.session_buckets VALUES ('{ORG}', 'raced', '2024-03-01')")
    store.write_batch(ORG, [sess("raced", T0)], [msg("raced", 0, "march")])
    conn.client.command(f"INSERT INTO {db}.session_buckets VALUES ('{ORG}', 'raced', '2024-02-01')")
    later = ClickHouseAgentSessions(conn, ttl_days=36_500)
    later.write_batch(ORG, [], [msg("raced", 1, "february")])
    parts = conn.client.query(f"SELECT _partition_id, message_key FROM {db}.messages ORDER BY 1").result_rows
    assert parts == [("202402", "ord:1"), ("202403", "ord:0")]
    assert [m.content for m in later.session_messages(ORG, "raced")] == ["march", "february"]
    assert later.last_ordinal(ORG, "raced") == 1


def test_times_in_any_zone_are_stored_as_instants(store: ClickHouseAgentSessions) -> None:
    tokyo = datetime(2024, 3, 4, 18, 15, 0, 250000, tzinfo=ZoneInfo("Asia/Tokyo"))
    store.write_batch(ORG, [sess("s1", tokyo)], [msg("s1", 0, "x", timestamp=tokyo)])
    assert store.get_session(ORG, "s1").started_at == datetime(2024, 3, 4, 9, 15, 0, 250000, tzinfo=UTC)
    assert store.session_messages(ORG, "s1")[0].timestamp == tokyo


# --- reads ---------------------------------------------------------------------------------------------------------


def test_pages_walk_every_browsable_session_once_with_ties_broken_by_id(store: ClickHouseAgentSessions) -> None:
    tie = T0 + timedelta(days=1)
    sessions = [sess("a", T0), sess("b", tie), sess("c", tie), sess("d", tie), sess("e", T0 + timedelta(days=2)),
                sess("f", None), sess("g", None), sess("sub", tie, parent_session_id="a"),
                sess("ghost", tie, user_message_count=0)]
    store.write_batch(ORG, sessions)
    expected = ["e", "d", "c", "b", "a", "g", "f"]  # newest first, id descending on ties, undated last
    for limit in (1, 2, 3, 50):
        ids, totals, pages = all_pages(store, limit=limit)
        assert ids == expected
        assert totals == {7}
        assert pages == -(-7 // limit)
    ids, totals, _ = all_pages(store, limit=2, include_subagents=True)
    assert ids == ["e", "sub", "d", "c", "b", "a", "g", "f"] and totals == {8}


def test_session_filters(store: ClickHouseAgentSessions) -> None:
    store.write_batch(ORG, [
        sess("a", T0), sess("b", T0 + timedelta(days=1), user_id="bob@acme.io", project_name="web"),
        sess("c", datetime(2024, 3, 5, 23, 30, tzinfo=UTC), agent_type="gemini-cli")])
    def ids(**f: Any) -> list[str]:
        return [s.id for s in store.list_sessions(ORG, SessionFilter.model_validate(f)).sessions]
    assert ids(user_id="bob@acme.io") == ["b"]
    assert ids(project_name="api") == ["c", "a"]
    assert ids(agent_type="gemini-cli") == ["c"]
    assert ids(date_from="2024-03-05", date_to="2024-03-05") == ["c", "b"]
    assert ids(date_to="2024-03-04") == ["a"]  # the whole end day is included
    # In Tokyo, 23:30 UTC on the 5th is already the 6th.
    assert ids(date_from="2024-03-06", tz="Asia/Tokyo") == ["c"]


def test_a_bad_cursor_is_an_invalid_cursor(store: ClickHouseAgentSessions) -> None:
    with pytest.raises(InvalidCursor):
        store.list_sessions(ORG, SessionFilter.model_construct(cursor="definitely-not", limit=50))


def test_session_detail_commit_count_and_not_found(store: ClickHouseAgentSessions) -> None:
    store.write_batch(ORG, [sess("s1"), sess("s2")], git_links=[
        GitLink(session_id="s1", commit_sha="a" * 40, link_type="commit", confidence="high"),
        GitLink(session_id="s1", commit_sha="b" * 40, link_type="commit", confidence="high"),
        GitLink(session_id="s1", pr_url="https://github.com/acme/api/pull/7", link_type="pr", confidence="medium")])
    got = store.get_session(ORG, "s1")
    assert (got.id, got.user_name, got.commit_count, got.started_at) == ("s1", "Ann", 2, T0)
    assert store.get_session(ORG, "s2").commit_count == 0
    assert {s.id: s.commit_count for s in store.list_sessions(ORG, SessionFilter()).sessions} == {"s1": 2, "s2": 0}
    with pytest.raises(NotFound):
        store.get_session(ORG, "missing")
    with pytest.raises(NotFound):
        store.get_session(OTHER, "s1")


def test_messages_carry_their_tool_calls_never_null(store: ClickHouseAgentSessions) -> None:
    store.write_batch(ORG, [sess("s1")],
                      [msg("s1", 0, "run it"), msg("s1", 1, "running", role="assistant", has_tool_use=True,
                                                   model="opus", output_tokens=12)],
                      [call("s1", 1, "tu-b", "Read", input_json='{"path": "a.py"}', result_content="print()"),
                       call("s1", 1, "tu-a", "Bash", input_json='{"command": "ls"}'),
                       call("s1", 7, "tu-orphan")])  # no message 7: not shown
    got = store.session_messages(ORG, "s1")
    assert got[0].tool_calls == []
    assert [(t.tool_use_id, t.tool_name, t.result_content, t.result_content_length) for t in got[1].tool_calls] == [
        ("tu-a", "Bash", "", None), ("tu-b", "Read", "print()", 7)]
    assert (got[1].model, got[1].output_tokens, got[1].has_tool_use) == ("opus", 12, True)
    assert got[0].model_dump(mode="json")["tool_calls"] == []


def test_git_links_of_a_session_and_lookups(store: ClickHouseAgentSessions) -> None:
    store.write_batch(ORG, [sess("s1"), sess("s2", T0 + timedelta(hours=1), user_name="Bob")], git_links=[
        GitLink(session_id="s1", message_ordinal=4, commit_sha="abc1234" + "0" * 33, link_type="commit",
                confidence="high", detected_at=T0),
        GitLink(session_id="s2", message_ordinal=2, commit_sha="abc1299" + "0" * 33, link_type="commit",
                confidence="high", detected_at=T0 + timedelta(hours=1)),
        GitLink(session_id="s2", message_ordinal=9, pr_url="https://github.com/acme/api/pull/12", link_type="pr",
                confidence="medium", detected_at=T0 + timedelta(hours=2))])
    assert [(g.message_ordinal, g.link_type) for g in store.session_git_links(ORG, "s2")] == [(2, "commit"),
                                                                                             (9, "pr")]
    assert [g.session_id for g in store.lookup_git_links(ORG, sha="abc12")] == ["s2", "s1"]  # newest first
    hit, = store.lookup_git_links(ORG, sha="ABC1234")
    assert (hit.session_id, hit.user_name, hit.project_name, hit.started_at) == ("s1", "Ann", "api", T0)
    pr, = store.lookup_git_links(ORG, pr_url="https://github.com/acme/api/pull/12")
    assert (pr.session_id, pr.link_type, pr.confidence, pr.message_ordinal) == ("s2", "pr", "medium", 9)
    assert store.lookup_git_links(OTHER, sha="abc12") == []
    with pytest.raises(BadParameter):
        store.lookup_git_links(ORG)


def test_users_projects_and_agents_of_browsable_sessions(store: ClickHouseAgentSessions) -> None:
    store.write_batch(ORG, [
        sess("a"), sess("b", user_id="bob@acme.io", user_name="Bob", project_name="web", project_id="git@x:web",
                        project_path="/home/bob/web", agent_type="gemini-cli"),
        sess("c", project_path="/home/ann/api"), sess("d", project_path="/srv/api"),
        sess("sub", user_id="zed@acme.io", user_name="Zed", agent_type="codex", parent_session_id="a"),
        sess("ghost", user_id="gus@acme.io", user_name="Gus", user_message_count=0),
        sess("unnamed", project_name="", agent_type="")])
    assert [(u.id, u.name) for u in store.users(ORG)] == [("ann@acme.io", "Ann"), ("bob@acme.io", "Bob")]
    assert [(p.id, p.name, p.path) for p in store.projects(ORG)] == [
        ("git@x:acme/api", "api", ""), ("git@x:web", "web", "/home/bob/web")]
    assert store.agents(ORG) == ["claude-code", "gemini-cli"]
    assert store.users(OTHER) == [] and store.projects(OTHER) == [] and store.agents(OTHER) == []


def test_stars_pins_and_session_deletes(store: ClickHouseAgentSessions) -> None:
    store.write_batch(ORG, [sess("s1"), sess("s2")])
    store.set_star(ORG, Star(session_id="s1", user_id="ann", created_at=T0))
    store.set_star(ORG, Star(session_id="s1", user_id="bob", created_at=T0 + timedelta(minutes=1)))
    store.set_pin(ORG, Pin(session_id="s1", message_ordinal=3, user_id="ann", note="the fix", created_at=T0))
    store.set_session_delete(ORG, SessionDelete(session_id="s2", user_id="ann", created_at=T0))
    assert [s.user_id for s in store.session_stars(ORG, "s1")] == ["ann", "bob"]
    assert [(p.message_ordinal, p.note) for p in store.session_pins(ORG, "s1")] == [(3, "the fix")]
    assert [(d.session_id, d.user_id) for d in store.session_deletes(ORG)] == [("s2", "ann")]
    store.set_star(ORG, Star(session_id="s1", user_id="bob"), starred=False)
    store.set_pin(ORG, Pin(session_id="s1", message_ordinal=3, user_id="ann"), pinned=False)
    store.set_session_delete(ORG, SessionDelete(session_id="s2", user_id="ann"), deleted=False)
    assert [s.user_id for s in store.session_stars(ORG, "s1")] == ["ann"]
    assert store.session_pins(ORG, "s1") == [] and store.session_deletes(ORG) == []
    assert store.session_stars(OTHER, "s1") == []


def test_replacing_a_users_marks_withdraws_the_rest(store: ClickHouseAgentSessions) -> None:
    store.write_batch(ORG, [sess("s1"), sess("s2"), sess("s3")])
    store.set_star(ORG, Star(session_id="s3", user_id="bob", created_at=T0))  # another user's: untouched
    store.replace_marks(ORG, "ann", stars=[Star(session_id="s1", created_at=T0), Star(session_id="s2", created_at=T0)],
                        pins=[Pin(session_id="s1", message_ordinal=1, note="a", created_at=T0)],
                        deletes=[SessionDelete(session_id="s3", created_at=T0)])
    store.replace_marks(ORG, "ann", stars=[Star(session_id="s2", created_at=T0)],
                        pins=[Pin(session_id="s1", message_ordinal=1, note="b", created_at=T0)], deletes=[])
    assert store.session_stars(ORG, "s1") == []
    assert [s.user_id for s in store.session_stars(ORG, "s2")] == ["ann"]
    assert [s.user_id for s in store.session_stars(ORG, "s3")] == ["bob"]
    assert [(p.user_id, p.note) for p in store.session_pins(ORG, "s1")] == [("ann", "b")]
    assert store.session_deletes(ORG) == []


def test_session_rows_and_recounts(store: ClickHouseAgentSessions) -> None:
    store.write_batch(ORG, [sess("s1", message_count=1, user_message_count=1, total_output_tokens=5,
                                 peak_context_tokens=100)],
                      [msg("s1", 0, "q"), msg("s1", 1, "a", role="assistant", output_tokens=30, context_tokens=900),
                       msg("s1", 2, "q2"), msg("s1", 3, "a2", role="assistant", output_tokens=12, context_tokens=50)])
    row = store.get_session_row(ORG, "s1")
    assert (row.id, row.message_count, row.started_at) == ("s1", 1, T0)
    store.recount_sessions(ORG, ["s1", "unknown"])
    got = store.get_session(ORG, "s1")
    assert (got.message_count, got.user_message_count, got.total_output_tokens, got.peak_context_tokens) == \
        (4, 2, 42, 900)
    with pytest.raises(NotFound):
        store.get_session_row(ORG, "unknown")


# --- search --------------------------------------------------------------------------------------------------------


def _search_fixture(store: ClickHouseAgentSessions) -> None:
    store.write_batch(ORG, [
        sess("old", T0, project_name="api"), sess("new", T0 + timedelta(days=1), project_name="web"),
        sess("sub", T0 + timedelta(days=2), parent_session_id="old"),
    ], [
        msg("old", 0, "設定ファイルを更新しました。東京のサーバーで再起動が必要です。"),
        msg("old", 1, "Die Überprüfung der Änderungen ist abgeschlossen.", role="assistant"),
        msg("new", 0, "Bitte die ÜBERPRÜFUNG wiederholen, 100% der Tests"),
        msg("new", 1, "commit deadbeefcafe is ready", role="assistant"),
        msg("sub", 0, "Überprüfung im Subagenten"),
    ], [
        call("new", 1, "tu-1", input_json='{"command": "grep -r Überprüfung src"}', result_content="nothing"),
        call("old", 1, "tu-2", input_json='{"path": "README"}', result_content="see the 設定 section"),
    ], [
        GitLink(session_id="old", message_ordinal=1, commit_sha="0123456789abcdef0123456789abcdef01234567",
                link_type="commit", confidence="high"),
        GitLink(session_id="new", message_ordinal=1, pr_url="https://github.com/acme/web/pull/42", link_type="pr",
                confidence="medium")])


def test_search_finds_german_case_insensitively_messages_then_tool_calls(store: ClickHouseAgentSessions) -> None:
    _search_fixture(store)
    page = store.search(ORG, SearchQuery(q="überprüfung"))
    assert [(r.session_id, r.ordinal, r.role) for r in page.results] == [
        ("new", 0, "user"), ("old", 1, "assistant"), ("new", 1, "tool")]  # newest session first; subagent excluded
    assert page.total == 3
    first = page.results[0]
    assert first.snippet == "Bitte die ÜBERPRÜFUNG wiederholen, 100% der Tests"
    (h,) = first.highlights
    assert first.snippet.encode()[h.start:h.end].decode() == "ÜBERPRÜFUNG"
    assert (h.start, h.end) == (10, 10 + len("ÜBERPRÜFUNG".encode()))
    assert (first.user_name, first.project_name, first.agent_type, first.started_at) == (
        "Ann", "web", "claude-code", T0 + timedelta(days=1))
    assert page.results[2].snippet == '{"command": "grep -r Überprüfung src"}'


def test_search_finds_japanese_with_byte_offsets(store: ClickHouseAgentSessions) -> None:
    _search_fixture(store)
    page = store.search(ORG, SearchQuery(q="設定"))
    assert [(r.session_id, r.ordinal, r.role) for r in page.results] == [("old", 0, "user"), ("old", 1, "tool")]
    message, tool = page.results
    assert [message.snippet.encode()[h.start:h.end].decode() for h in message.highlights] == ["設定"]
    assert (message.highlights[0].start, message.highlights[0].end) == (0, 6)
    assert tool.snippet == "see the 設定 section"  # the input did not match: the result is shown
    assert (tool.highlights[0].start, tool.highlights[0].end) == (8, 14)
    assert [r.session_id for r in store.search(ORG, SearchQuery(q="東京のサーバー")).results] == ["old"]


def test_search_filters_limits_and_org(store: ClickHouseAgentSessions) -> None:
    _search_fixture(store)
    assert [r.session_id for r in store.search(ORG, SearchQuery(q="überprüfung", project_name="api")).results] == [
        "old"]
    assert [r.session_id for r in store.search(
        ORG, SearchQuery.model_validate({"q": "überprüfung", "date_from": "2024-03-05"})).results] == ["new", "new"]
    limited = store.search(ORG, SearchQuery(q="überprüfung", limit=2))
    assert [(r.session_id, r.role) for r in limited.results] == [("new", "user"), ("old", "assistant")]
    assert limited.total == 2
    assert store.search(OTHER, SearchQuery(q="überprüfung")).results == []


def test_search_finds_only_browsable_sessions(store: ClickHouseAgentSessions) -> None:
    ids = ("main", "sub", "ghost")
    store.write_batch(ORG, [sess("main"), sess("sub", parent_session_id="main"), sess("ghost", user_message_count=0)],
                      [msg(sid, 1, "a shared needle") for sid in ids],
                      [call(sid, 1, f"t-{sid}", input_json='{"q": "needle"}') for sid in ids])
    for query in (SearchQuery(q="needle"), SearchQuery(q="needle", project_name="api")):  # with a facet or not
        assert [(r.session_id, r.role) for r in store.search(ORG, query).results] == [("main", "user"),
                                                                                      ("main", "tool")]


def test_like_wildcards_in_the_query_are_literal(store: ClickHouseAgentSessions) -> None:
    _search_fixture(store)
    assert [r.session_id for r in store.search(ORG, SearchQuery(q="100% der")).results] == ["new"]
    assert store.search(ORG, SearchQuery(q="100_ der")).results == []
    assert store.search(ORG, SearchQuery(q="%")).total == 1


def test_a_sha_or_pr_url_finds_git_links_first(store: ClickHouseAgentSessions) -> None:
    _search_fixture(store)
    (hit,) = store.search(ORG, SearchQuery(q="0123456")).results
    assert (hit.session_id, hit.ordinal, hit.role, hit.snippet, hit.highlights) == (
        "old", 1, "assistant", "Commit 0123456 (high confidence)", [])
    (pr,) = store.search(ORG, SearchQuery(q="https://github.com/acme/web/pull/42")).results
    assert pr.snippet == "PR https://github.com/acme/web/pull/42 (medium confidence)"
    # hex that no git link has: the text search runs
    (text,) = store.search(ORG, SearchQuery(q="deadbeef")).results
    assert (text.session_id, text.ordinal, text.role) == ("new", 1, "assistant")
    assert [text.snippet.encode()[h.start:h.end].decode() for h in text.highlights] == ["deadbeef"]


def test_search_over_many_rows_finds_a_needle(store: ClickHouseAgentSessions, conn: AnalyticsConnection) -> None:
    sessions = [sess(f"s{i:03d}", T0 + timedelta(minutes=i)) for i in range(300)]
    messages = [msg(f"s{i:03d}", o, f"routine message {i}-{o} about the build") for i in range(300) for o in range(10)]
    messages.append(msg("s123", 10, "the flaky 認証テスト fails on Größenänderung"))
    store.write_batch(ORG, sessions, messages[:1500])
    store.write_batch(ORG, [], messages[1500:])
    conn.client.command(f"OPTIMIZE TABLE {conn.database}.messages FINAL")  # one merged part, as a past month ends up
    for term in ("認証テスト", "größenÄNDERUNG", "FLAKY 認証"):
        assert [(r.session_id, r.ordinal) for r in store.search(ORG, SearchQuery(q=term)).results] == [("s123", 10)]
    assert store.search(ORG, SearchQuery(q="about the build")).total == 50


@pytest.mark.parametrize("slices", [(5,), (3, 12), (1, 2, 40)])
def test_searching_the_newest_sessions_first_gives_the_same_page(store: ClickHouseAgentSessions,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 slices: tuple[int, ...]) -> None:
    # 12 sessions of 4 messages; ties on the start time; terms from every session, a few, one, none.
    starts = [T0 + timedelta(hours=h) for h in (0, 1, 1, 2, 3, 3, 3, 4, 5, 6, 7, 8)]
    sessions = [sess(f"s{i:02d}", at, message_count=4) for i, at in enumerate(starts)]
    messages = [msg(f"s{i:02d}", o, f"common words {'rare ' if i % 5 == 0 else ''}{'single' if i == 7 else ''} {o}")
                for i in range(12) for o in range(4)]
    calls = [call(f"s{i:02d}", 1, f"t{i}", input_json=f'{{"arg": "common tool {i}"}}') for i in range(12)]
    store.write_batch(ORG, sessions, messages, calls)

    def page(q: str, limit: int, **f: Any) -> list[tuple[str, int, str]]:
        found = store.search(ORG, SearchQuery.model_validate({"q": q, "limit": limit, **f}))
        return [(r.session_id, r.ordinal, r.role) for r in found.results]

    cases = [("common", 5), ("common", 50), ("rare", 50), ("single", 3), ("absent", 10), ("tool", 7), ("words", 20)]
    monkeypatch.setattr(search_module, "SLICES", ())
    expected = {case: page(*case) for case in cases}
    expected_web = page("common", 30, project_name="api", date_to="2024-03-04")
    monkeypatch.setattr(search_module, "SLICES", slices)
    assert {case: page(*case) for case in cases} == expected
    assert page("common", 30, project_name="api", date_to="2024-03-04") == expected_web
    assert expected[("common", 5)] == [("s11", 0, "user"), ("s11", 1, "user"), ("s11", 2, "user"),
                                       ("s11", 3, "user"), ("s10", 0, "user")]
    assert [r[0] for r in expected[("rare", 50)]] == ["s10"] * 4 + ["s05"] * 4 + ["s00"] * 4
    assert expected[("tool", 7)] == [(f"s{i:02d}", 1, "tool") for i in (11, 10, 9, 8, 7, 6, 5)]


def test_a_term_missing_from_the_newest_sessions_is_searched_in_the_rest_at_once(
        store: ClickHouseAgentSessions, monkeypatch: pytest.MonkeyPatch) -> None:
    sessions = [sess(f"s{i:02d}", T0 + timedelta(hours=i), message_count=4) for i in range(12)]
    messages = [msg(f"s{i:02d}", o, f"{'needle ' if i in (0, 10) else ''}hay {o}") for i in range(12) for o in range(4)]
    store.write_batch(ORG, sessions, messages, [call("s00", 1, "t0", input_json='{"arg": "needle"}')])
    monkeypatch.setattr(search_module, "SLICES", (4, 12))  # s11; s10 and s09; then the rest
    passes: list[str] = []
    matching = search_module.SessionSearch._matching

    def counted(self: Any, kind: Any, *args: Any) -> list[tuple[Any, ...]]:
        passes.append(kind.table)
        return matching(self, kind, *args)

    monkeypatch.setattr(search_module.SessionSearch, "_matching", counted)
    hits = store.search(ORG, SearchQuery(q="needle")).results
    assert [(r.session_id, r.ordinal, r.role) for r in hits] == [
        *(("s10", o, "user") for o in range(4)), *(("s00", o, "user") for o in range(4)), ("s00", 1, "tool")]
    # Messages: nothing in s11, so the rest at once (s10 included); tool calls likewise: two passes each, not three.
    assert passes == ["messages", "messages", "tool_calls", "tool_calls"]
    passes.clear()
    assert len(store.search(ORG, SearchQuery(q="hay", limit=10)).results) == 10
    assert passes == ["messages", "messages"]  # found in s11 (4 rows), the next slice fills the page


# --- analytics -----------------------------------------------------------------------------------------------------


def _analytics_fixture(store: ClickHouseAgentSessions) -> None:
    at = datetime(2024, 3, 4, 22, 30, tzinfo=UTC)  # Monday 22:30 UTC = Tuesday 07:30 in Tokyo
    store.write_batch(ORG, [
        sess("a1", at, message_count=10, total_output_tokens=100, peak_context_tokens=5000),
        sess("a2", at + timedelta(days=1), message_count=4, total_output_tokens=50, peak_context_tokens=7000),
        sess("b1", at + timedelta(days=1, hours=2), user_id="bob@acme.io", user_name="Bob", project_name="web",
             message_count=6, total_output_tokens=10, peak_context_tokens=100),
        sess("b2", at + timedelta(days=10), user_id="bob@acme.io", user_name="Bob", agent_type="gemini-cli",
             message_count=3),
        sess("sub", at, parent_session_id="a1", message_count=99),
        sess("ghost", at, user_message_count=0, message_count=99),
    ], [
        msg("a1", 1, "x", role="assistant", model="opus", output_tokens=60, context_tokens=1000),
        msg("a1", 3, "y", role="assistant", model="opus", output_tokens=40, context_tokens=3000),
        msg("a2", 1, "z", role="assistant", model="sonnet", output_tokens=50, context_tokens=200),
        msg("b1", 1, "w", role="assistant", model="", output_tokens=10),  # no model: not counted
        msg("b1", 2, "v", role="assistant", model="sonnet", output_tokens=0),  # no output: not counted
        msg("sub", 1, "s", role="assistant", model="opus", output_tokens=999),  # subagent: not counted
    ], [call("a1", 1, f"t{i}", "Bash", tool_category="shell") for i in range(3)]
       + [call("a2", 1, "t9", "Read", tool_category="file"), call("b1", 1, "t8", "Read", tool_category="file"),
          call("sub", 1, "t7", "Bash", tool_category="shell")]
       + [call("b2", 1, f"x{i:02d}", f"Tool{i:02d}", tool_category="misc") for i in range(20)], [
        GitLink(session_id="a1", commit_sha="1" * 40, link_type="commit", confidence="high"),
        GitLink(session_id="a1", commit_sha="2" * 40, link_type="commit", confidence="high"),
        GitLink(session_id="b1", pr_url="https://github.com/acme/web/pull/1", link_type="pr", confidence="high")])


def test_usage_per_user_agent_and_project(store: ClickHouseAgentSessions) -> None:
    _analytics_fixture(store)
    rows = [(u.user_id, u.agent_type, u.project_name, u.session_count, u.message_count, u.commit_count,
             u.total_output_tokens, u.peak_context_tokens) for u in store.usage(ORG, AnalyticsFilter())]
    assert rows == [("ann@acme.io", "claude-code", "api", 2, 14, 2, 150, 7000),
                    ("bob@acme.io", "claude-code", "web", 1, 6, 0, 10, 100),
                    ("bob@acme.io", "gemini-cli", "api", 1, 3, 0, 0, 0)]
    web = store.usage(ORG, AnalyticsFilter(project_name="web"))
    assert [(u.user_id, u.session_count) for u in web] == [("bob@acme.io", 1)]
    ranged = store.usage(ORG, AnalyticsFilter.model_validate({"date_from": "2024-03-05", "date_to": "2024-03-05"}))
    assert [(u.user_id, u.session_count) for u in ranged] == [("ann@acme.io", 1)]  # b1 starts on the 6th (UTC)
    assert store.usage(OTHER, AnalyticsFilter()) == []


def test_heatmap_in_utc_and_in_a_zone(store: ClickHouseAgentSessions) -> None:
    _analytics_fixture(store)
    utc_cells = [(c.day_of_week, c.hour, c.session_count) for c in store.heatmap(ORG, AnalyticsFilter())]
    assert utc_cells == [(1, 22, 1), (2, 22, 1), (3, 0, 1), (4, 22, 1)]
    tokyo = [(c.day_of_week, c.hour, c.session_count) for c in store.heatmap(ORG, AnalyticsFilter(tz="Asia/Tokyo"))]
    assert tokyo == [(2, 7, 1), (3, 7, 1), (3, 9, 1), (5, 7, 1)]


def test_daily_activity_in_a_zone_with_an_inclusive_end(store: ClickHouseAgentSessions) -> None:
    _analytics_fixture(store)
    days = [(d.date, d.session_count, d.message_count, d.total_output_tokens)
            for d in store.daily(ORG, AnalyticsFilter())]
    assert days == [("2024-03-04", 1, 10, 100), ("2024-03-05", 1, 4, 50), ("2024-03-06", 1, 6, 10),
                    ("2024-03-14", 1, 3, 0)]
    tokyo = store.daily(ORG, AnalyticsFilter.model_validate(
        {"tz": "Asia/Tokyo", "date_from": "2024-03-05", "date_to": "2024-03-06"}))
    assert [(d.date, d.session_count) for d in tokyo] == [("2024-03-05", 1), ("2024-03-06", 2)]


def test_top_twenty_tools(store: ClickHouseAgentSessions) -> None:
    _analytics_fixture(store)
    tools = store.tools(ORG, AnalyticsFilter())
    assert len(tools) == 20
    assert [(t.tool_name, t.category, t.usage_count) for t in tools[:2]] == [("Bash", "shell", 3),
                                                                           ("Read", "file", 2)]
    assert [t.tool_name for t in tools[2:]] == [f"Tool{i:02d}" for i in range(18)]  # ties by name; 2 cut off
    web = store.tools(ORG, AnalyticsFilter(project_name="web"))
    assert [(t.tool_name, t.usage_count) for t in web] == [("Read", 1)]


def test_tokens_by_model(store: ClickHouseAgentSessions) -> None:
    _analytics_fixture(store)
    rows = [(t.model, t.output_tokens, t.context_tokens, t.message_count)
            for t in store.tokens_by_model(ORG, AnalyticsFilter())]
    assert rows == [("opus", 100, 4000, 2), ("sonnet", 50, 200, 1)]
    assert [t.model for t in store.tokens_by_model(ORG, AnalyticsFilter(project_name="web"))] == []


# --- concurrency ---------------------------------------------------------------------------------------------------


def test_threads_share_one_store(store: ClickHouseAgentSessions) -> None:
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            for i in range(5):
                sid = f"w{k}-{i}"
                store.write_batch(ORG, [sess(sid, T0 + timedelta(minutes=k * 10 + i))],
                                  [msg(sid, o, f"thread {k} message {o}") for o in range(20)])
                assert len(store.session_messages(ORG, sid)) == 20
                store.list_sessions(ORG, SessionFilter(limit=5))
        except BaseException as exc:  # reported below: a failure in a thread must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.list_sessions(ORG, SessionFilter()).total == 20
    assert store.search(ORG, SearchQuery(q="thread 3 message 19")).total == 5
