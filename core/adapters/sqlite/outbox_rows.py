"""Outbox rows: the one INSERT every writer enqueues with, and payloads stored lz4-compressed when large."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable

# With analytics on, an ingest message carries its normalised records: about 160 KiB of JSON per 100 spans. Written
# as is, that was most of the bytes an ingest commit wrote to the log and most of the work of a delivery's ack;
# lz4 shrinks it about tenfold in under 0.1 ms. Small messages (ids only) stay plain JSON.
COMPRESS_FROM = 4096
_LZ4_FRAME = b"\x04\x22\x4d\x18"  # a JSON payload starts with "{", never with the frame's magic number


def pack(payload: bytes) -> bytes:
    """The bytes to store for a payload."""
    if len(payload) < COMPRESS_FROM:
        return payload
    import lz4.frame  # only once a large payload shows up: a cold start never pays for it

    return bytes(lz4.frame.compress(payload))


def unpack(stored: bytes) -> bytes:
    """The payload stored bytes hold (plain or compressed)."""
    if not stored.startswith(_LZ4_FRAME):
        return stored
    import lz4.frame

    return bytes(lz4.frame.decompress(stored))


def insert_outbox(conn: sqlite3.Connection, messages: Iterable[tuple[str, bytes]]) -> None:
    """Enqueue (topic, payload) messages in the caller's transaction."""
    now = time.time_ns()
    conn.executemany("INSERT INTO outbox (topic, payload, created_ns) VALUES (?,?,?)",
                     [(topic, pack(payload), now) for topic, payload in messages])
