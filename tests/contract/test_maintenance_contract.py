"""The MaintenanceStore contract: retention deletes exactly the expired rows of each kind, in chunks, in every
org, idempotently; store health; the outbox's dead letters and the ops counters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.catalog.models import Message
from core.models import MetricQuery, SpanQuery
from core.ports.maintenance import HEALTH_OK, RETENTION_KINDS, SizeThresholds
from core.ports.store import Store
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
from core.retention import DAY_NS, EVENT_LOG, RetentionPolicy, run_retention
from tests.contract import test_store_contract as _contract

store = _contract.store  # the adapter-parametrised fixture: every adapter runs this suite

NOW = 1_780_000_000 * 10**9
OLD = NOW - 100 * DAY_NS  # past every default TTL
MID = NOW - 45 * DAY_NS  # past the 30-day kinds, inside the 90-day ones
FRESH = NOW - 1 * DAY_NS


def span(trace: str, sid: str, at: int, session: str) -> SpanRecord:
    return SpanRecord(trace, sid, None, "op", "internal", "ok", None, at, at + 10**6, session, "svc", "other",
                      "", Usage(), Links(), "{}", "{}", None)


def batch(org: str, tag: str, at: int, n_spans: int = 1) -> Batch:
    """One row of every kind, all at ``at``, ids suffixed with ``tag``."""
    session = f"s-{tag}"
    return Batch(
        org,
        spans=[span(f"t-{tag}", f"{i:016x}", at, session) for i in range(n_spans)],
        events=[EventRecord(f"e-{tag}", "user_prompt", "claude_code", at, session, None, None, None, None, None,
                            "{}", "{}")],
        llm_calls=[LlmCallRecord(f"req:{tag}", session, at, 1.0, Usage(model="m", tokens_in=1))],
        tool_calls=[ToolCallRecord(f"tool-{tag}", session, "Bash", at)],
        metric_points=[MetricPointRecord(f"series-{tag}", "claude_code.token.usage", "sum", "delta", at - 10**9,
                                         at, 1.0, session, None, None, "{}", "{}")],
        sessions={session: SessionRecord(session, at, at, service_name="claude-code", source_type="claude_code")},
    )


def write(s: Store, b: Batch) -> None:
    with s.unit_of_work() as uow:
        uow.write(b, f"digest-{b.org_id}-{len(b.spans)}-{b.sessions and next(iter(b.sessions))}", [])


def counts(s: Store, org: str, tag: str) -> dict[str, int]:
    """How many rows of each kind with ``tag`` are stored for ``org`` (through the port's reads)."""
    session = f"s-{tag}"
    return {
        "spans": len(s.list_spans(org, SpanQuery(trace_id=f"t-{tag}", limit=1000))),
        "metric_points": len([p for p in s.list_metric_points(org, MetricQuery(session_id=session, limit=1000))]),
        "events": len(s.session_events(org, session)),
        "sessions": int(s.get_session(org, session) is not None),
        "llm_calls": len(s.session_llm_calls(org, session)),
        "tool_calls": len(s.session_tool_calls(org, session)),
        "messages": int(s.get_message(org, f"m-{tag}") is not None),
    }


def seed(s: Store) -> None:
    for org in ("acme", "globex"):
        for tag, at in (("old", OLD), ("mid", MID), ("fresh", FRESH)):
            write(s, batch(org, tag, at))
            s.create_message(org, Message(id=f"m-{tag}", inbox="coder",
                                          created_at=datetime.fromtimestamp(at / 1e9, UTC)))


def test_retention_deletes_exactly_the_expired_rows_of_each_kind_in_every_org(store: Store) -> None:
    seed(store)
    report = run_retention(store, RetentionPolicy(), NOW)
    one_each = {"spans": 1, "metric_points": 1, "events": 1, "sessions": 1, "llm_calls": 1, "tool_calls": 1,
                "messages": 1}
    none = dict.fromkeys(one_each, 0)
    short = {"spans", "metric_points", "events"}  # 30 days; the rest 90
    for org in ("acme", "globex"):
        assert counts(store, org, "old") == none
        assert counts(store, org, "mid") == {k: 0 if k in short else 1 for k in one_each}
        assert counts(store, org, "fresh") == one_each
    # Two orgs: the old rows of every kind, and the mid rows of the 30-day kinds.
    assert {k: report.deleted[k] for k in RETENTION_KINDS} == {k: 4 if k in short else 2 for k in one_each}
    assert EVENT_LOG in report.deleted and report.health.status == HEALTH_OK


def test_retention_is_idempotent(store: Store) -> None:
    seed(store)
    run_retention(store, RetentionPolicy(), NOW)
    again = run_retention(store, RetentionPolicy(), NOW)
    assert again.total == 0
    assert counts(store, "acme", "fresh")["spans"] == 1


def test_retention_deletes_in_chunks(store: Store) -> None:
    write(store, batch("acme", "many", OLD, n_spans=23))
    write(store, batch("acme", "keep", FRESH, n_spans=3))
    assert store.delete_expired("spans", NOW - 30 * DAY_NS, chunk=5) == 23
    assert store.delete_expired("spans", NOW - 30 * DAY_NS, chunk=5) == 0
    assert len(store.list_spans("acme", SpanQuery(limit=1000))) == 3


def test_a_kind_kept_forever_and_configured_ttls(store: Store) -> None:
    seed(store)
    policy = RetentionPolicy(days={"spans": 0, "sessions": 10})
    report = run_retention(store, policy, NOW)
    assert "spans" not in report.deleted
    assert counts(store, "acme", "old")["spans"] == 1
    assert counts(store, "acme", "mid")["sessions"] == 0  # 45 days > 10
    assert counts(store, "acme", "fresh")["sessions"] == 1


def test_unknown_kind_is_refused(store: Store) -> None:
    with pytest.raises(ValueError):
        store.delete_expired("nonsense", NOW)


def test_health_reports_without_deleting(store: Store) -> None:
    seed(store)
    health = store.health()
    assert health.status in ("ok", "warn", "cleanup", "danger")
    assert health.message
    assert counts(store, "acme", "old")["spans"] == 1


def test_dead_letters_after_max_attempts_and_replay(store: Store) -> None:
    store.enqueue_outbox([("telemetry-ingested", b"poison"), ("telemetry-ingested", b"fine")])
    poison, fine = store.claim_outbox(10)
    for _ in range(4):
        assert store.record_outbox_failure([poison.id], "boom", max_attempts=5) == 0
    assert store.dead_letter_count() == 0 and store.outbox_backlog() == 2
    assert store.record_outbox_failure([poison.id], "boom", max_attempts=5) == 1
    assert store.outbox_backlog() == 1 and store.dead_letter_count() == 1
    [letter] = store.list_dead_letters()
    assert (letter.topic, letter.payload, letter.reason, letter.attempts) == ("telemetry-ingested", b"poison",
                                                                              "boom", 5)
    assert store.replay_dead_letters([letter.id]) == 1
    assert store.dead_letter_count() == 0
    assert sorted(m.payload for m in store.claim_outbox(10)) == [b"fine", b"poison"]
    assert store.replay_dead_letters([letter.id]) == 0  # already replayed


def test_permanent_dead_letter_and_replay_all(store: Store) -> None:
    store.enqueue_outbox([("t", b"a"), ("t", b"b")])
    ids = [m.id for m in store.claim_outbox(10)]
    assert store.dead_letter_outbox(ids, "permanent: bad") == 2
    assert store.outbox_backlog() == 0 and store.oldest_outbox_ns() is None
    assert [d.reason for d in store.list_dead_letters(limit=1, offset=1)] == ["permanent: bad"]
    assert store.replay_dead_letters() == 2
    assert store.outbox_backlog() == 2 and store.dead_letter_count() == 0
    assert store.oldest_outbox_ns() is not None


def test_rejection_counts_by_reason_stay_inside_the_org(store: Store) -> None:
    b = Batch("acme")
    b.reject("missing trace id")
    b.reject("missing trace id")
    b.reject("bad time")
    with store.unit_of_work() as uow:
        uow.write(b, "r1", [])
    assert store.rejection_counts("acme") == {"bad time": 1, "missing trace id": 2}
    assert store.rejection_counts("globex") == {}


# -- SQLite specifics --------------------------------------------------------------------------------------
def test_sqlite_span_id_lookups_go_with_their_spans(tmp_path: object) -> None:
    from pathlib import Path

    from core.adapters.sqlite import SqliteStore

    s = SqliteStore(Path(str(tmp_path)) / "ids.db")
    try:
        write(s, batch("acme", "old", OLD, n_spans=3))
        write(s, batch("acme", "fresh", FRESH, n_spans=2))
        s.index_span_ids("acme", ["t-old", "t-fresh"])
        assert s.find_span("acme", f"{0:016x}") is not None
        assert s.delete_expired("spans", NOW - 30 * DAY_NS) == 3
        rows = s._reader().execute("SELECT trace_id FROM ids.span_ids WHERE org_id = 'acme'").fetchall()
        assert sorted(r[0] for r in rows) == ["t-fresh", "t-fresh"]
    finally:
        s.close()


def test_sqlite_health_bands_are_loud_and_never_destructive(tmp_path: object,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    from pathlib import Path

    from core.adapters.sqlite import SqliteStore

    path = Path(str(tmp_path)) / "h.db"
    s = SqliteStore(path)
    try:
        write(s, batch("acme", "x", FRESH))
        size = s.health().size_bytes
        assert size is not None and size > 0
        s.size_thresholds = SizeThresholds(warn=1, cleanup=size * 10, danger=size * 100)
        assert s.health().status == "warn"
        s.size_thresholds = SizeThresholds(warn=1, cleanup=2, danger=size * 100)
        assert s.health().status == "cleanup"
        s.size_thresholds = SizeThresholds(warn=1, cleanup=2, danger=3)
        danger = s.health()
        assert danger.status == "danger" and "nothing is deleted" in danger.message
        assert any(r.levelname == "ERROR" and "DANGER" in r.getMessage() for r in caplog.records)
        assert path.exists() and counts(s, "acme", "x")["spans"] == 1
    finally:
        s.close()


def test_size_thresholds_follow_the_seed() -> None:
    mib = 1024 * 1024
    t = SizeThresholds()
    assert [t.classify(n)[0] for n in (0, 199 * mib, 200 * mib, 499 * mib, 500 * mib, 2048 * mib, 2049 * mib)] == [
        "ok", "ok", "warn", "warn", "cleanup", "cleanup", "danger"]
