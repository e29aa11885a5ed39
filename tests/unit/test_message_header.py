"""The aggregate worker reads a `telemetry-ingested` message's header without decoding the records it carries, and
reads the same entities as a full decode would, whatever its strings hold."""

from __future__ import annotations

import orjson
import pytest

from core.ingest import ingested_message
from core.record_codec import encode_records, message_header
from core.records import Batch, Links, SessionRecord, SpanRecord, Usage

TRICKY = ['s,"stored_ns":1}', 's"}', "s\\", 's,"stored_ns":', "日本語"]


def _batch(session_id: str) -> Batch:
    batch = Batch("acme")
    batch.spans.append(SpanRecord("t" * 32, "s" * 16, None, 'a,"stored_ns":2', "internal", "ok", None, 1, 2,
                                  session_id, "svc", "other", "", Usage(), Links(task_id=session_id), "{}", "{}", None))
    batch.sessions[session_id] = SessionRecord(session_id, 1, 2)
    return batch


@pytest.mark.parametrize("session_id", TRICKY)
@pytest.mark.parametrize("with_records", [True, False])
def test_the_header_is_what_a_full_decode_reads(session_id: str, with_records: bool) -> None:
    batch = _batch(session_id)
    payload = ingested_message(batch, "traces", encode_records(batch) if with_records else None)
    full = orjson.loads(payload)
    header = message_header(payload)
    for key in ("org_id", "signal", "session_ids", "trace_ids", "task_ids", "counts"):
        assert header[key] == full[key]
    assert header["session_ids"] == [session_id]
    if with_records:
        assert "spans" in full and "spans" not in header  # the records were not decoded


def test_a_payload_in_another_layout_is_decoded_whole() -> None:
    payload = orjson.dumps({"stored_ns": 1, "org_id": "acme", "session_ids": ["a"], "x": {"y": ',"stored_ns":'}})
    assert message_header(payload)["session_ids"] == ["a"]
    with pytest.raises(ValueError):
        message_header(b'{"org_id": "acme",')
