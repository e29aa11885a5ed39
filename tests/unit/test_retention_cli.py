"""`observatory retention` and `observatory dlq list|replay` on the local store."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from core.adapters.sqlite import SqliteStore
from core.config import Settings
from core.records import Batch, SessionRecord
from core.retention import DAY_NS, RetentionPolicy
from emulator.cli import main


def local_store(data_dir: Path) -> SqliteStore:
    return SqliteStore(Settings.from_env().sqlite_path)


def sessions(store: SqliteStore, org: str, ages_days: dict[str, float]) -> None:
    now = time.time_ns()
    b = Batch(org, sessions={sid: SessionRecord(sid, now - int(d * DAY_NS), now - int(d * DAY_NS))
                             for sid, d in ages_days.items()})
    with store.unit_of_work() as uow:
        uow.write(b, f"d-{org}", [])


def test_retention_reports_counts_and_keeps_fresh_rows(isolated_env: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    store = local_store(isolated_env)
    sessions(store, "acme", {"old": 120, "new": 1})
    store.close()
    assert main(["retention", "--json", "--data-dir", str(isolated_env)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["deleted"]["sessions"] == 1 and report["health"]["status"] == "ok"
    assert main(["retention", "--data-dir", str(isolated_env)]) == 0
    out = capsys.readouterr().out
    assert "sessions: 0 deleted (older than 90 days)" in out and "store ok" in out
    store = local_store(isolated_env)
    try:
        assert store.get_session("acme", "new") is not None and store.get_session("acme", "old") is None
    finally:
        store.close()


def test_retention_reads_ttls_from_the_environment(isolated_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    store = local_store(isolated_env)
    sessions(store, "acme", {"a": 5, "b": 1})
    store.close()
    monkeypatch.setenv("OBSERVATORY_RETENTION_SESSIONS_DAYS", "2")
    assert main(["retention", "--json", "--data-dir", str(isolated_env)]) == 0
    assert json.loads(capsys.readouterr().out)["deleted"]["sessions"] == 1
    monkeypatch.setenv("OBSERVATORY_RETENTION_SPANS_DAYS", "soon")
    assert main(["retention", "--data-dir", str(isolated_env)]) == 2
    assert "OBSERVATORY_RETENTION_SPANS_DAYS" in capsys.readouterr().err


def test_policy_from_env() -> None:
    p = RetentionPolicy.from_env({"OBSERVATORY_RETENTION_EVENTS_DAYS": "7", "OBSERVATORY_RETENTION_CHUNK": "10"})
    assert p.days["events"] == 7 and p.days["event_log"] == 7 and p.days["spans"] == 30
    assert p.days["messages"] == 90 and p.chunk == 10
    with pytest.raises(ValueError):
        RetentionPolicy.from_env({"OBSERVATORY_RETENTION_TOOL_CALLS_DAYS": "-1"})


def test_dlq_list_and_replay(isolated_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = local_store(isolated_env)
    store.enqueue_outbox([("telemetry-ingested", b"one"), ("telemetry-ingested", b"two")])
    store.dead_letter_outbox([m.id for m in store.claim_outbox(10)], "permanent: bad payload")
    store.close()
    assert main(["dlq", "list", "--json", "--data-dir", str(isolated_env)]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["count"] == 2
    assert [(d["topic"], d["reason"], d["bytes"]) for d in listed["dead_letters"]] == [
        ("telemetry-ingested", "permanent: bad payload", 3)] * 2
    assert main(["dlq", "list", "--data-dir", str(isolated_env)]) == 0
    assert "2 dead letter(s)" in capsys.readouterr().out
    assert main(["dlq", "replay", "--data-dir", str(isolated_env)]) == 2  # names nothing: refused
    first = listed["dead_letters"][0]["id"]
    assert main(["dlq", "replay", str(first), "--data-dir", str(isolated_env)]) == 0
    assert "replayed 1" in capsys.readouterr().out
    assert main(["dlq", "replay", "--all", "--data-dir", str(isolated_env)]) == 0
    assert "replayed 1" in capsys.readouterr().out
    store = local_store(isolated_env)
    try:
        assert store.dead_letter_count() == 0
        assert sorted(m.payload for m in store.claim_outbox(10)) == [b"one", b"two"]
    finally:
        store.close()
