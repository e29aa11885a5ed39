"""The SQLite outbox: large payloads stored compressed and read back whole; acks that free pages cheaply."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import orjson

from core.adapters.sqlite import SqliteStore
from core.adapters.sqlite.outbox_rows import COMPRESS_FROM

# Shaped like an analytics message: a header, then many records that repeat their keys.
LARGE = orjson.dumps({"org_id": "acme", "spans": [{"trace_id": f"{i:032x}", "name": "claude_code.tool",
                                                   "attributes_json": '{"tool_name": "Bash"}'} for i in range(2000)]})
SMALL = b'{"org_id": "acme", "session_ids": ["s1"]}'


def _stored(path: Path) -> list[bytes]:
    with sqlite3.connect(path) as conn:
        return [bytes(r[0]) for r in conn.execute("SELECT payload FROM outbox ORDER BY id")]


def test_a_large_payload_is_stored_compressed_and_delivered_whole(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "observatory.db")
    store.enqueue_outbox([("telemetry-ingested", LARGE), ("telemetry-ingested", SMALL)])
    large, small = _stored(tmp_path / "observatory.db")
    assert len(SMALL) < COMPRESS_FROM <= len(LARGE)
    assert small == SMALL  # ids-only messages stay plain JSON
    assert len(large) < len(LARGE) / 5 and not large.startswith(b"{")
    assert [m.payload for m in store.claim_outbox(10)] == [LARGE, SMALL]
    store.close()


def test_a_dead_lettered_large_payload_is_listed_and_replayed_whole(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "observatory.db")
    store.enqueue_outbox([("telemetry-ingested", LARGE)])
    [message] = store.claim_outbox(10)
    store.dead_letter_outbox([message.id], "permanent: test")
    assert [d.payload for d in store.list_dead_letters()] == [LARGE]
    assert store.replay_dead_letters() == 1
    assert [m.payload for m in store.claim_outbox(10)] == [LARGE]
    store.close()


def test_an_ack_frees_payload_pages_without_overwriting_them_and_keeps_the_setting(tmp_path: Path) -> None:
    path = tmp_path / "observatory.db"
    store = SqliteStore(path)
    writer = store._writer
    writer.execute("PRAGMA secure_delete=ON")  # as builds that overwrite freed pages (Debian's) start
    page = int(writer.execute("PRAGMA page_size").fetchone()[0])
    store.enqueue_outbox([("telemetry-ingested", os.urandom(64 * page))])  # incompressible: 64 overflow pages
    ids = [m.id for m in store.claim_outbox(10)]
    writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the log now holds only what the ack writes
    store.ack_outbox(ids)
    assert store.outbox_backlog() == 0
    frames = (path.with_name(path.name + "-wal").stat().st_size - 32) // (page + 24)
    assert frames < 8  # overwriting the freed pages with zeros would log every one of the 64
    assert int(writer.execute("PRAGMA secure_delete").fetchone()[0]) == 1  # other deletes still overwrite
    store.close()
