"""Records in a bus message: written as rows of field values under the message's field names, read back whole;
messages written as objects, or by a version with other fields, still read."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
import pytest

from core.errors import InvalidPayload
from core.record_codec import batch_from_message, encode_records
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


def _batch() -> Batch:
    batch = Batch("acme")
    usage = Usage(model="claude-sonnet-4-5", provider="anthropic", tokens_in=12, tokens_out=3, computed_cost_usd=0.5)
    links = Links(task_id="t-1", chain_id="c-1")
    batch.spans.append(SpanRecord("a" * 32, "b" * 16, None, "llm", "client", "ok", None, 1, 2, "s-1", "svc",
                                  "claude_code", "/w", usage, links, '{"k":"v \\"q\\""}', "{}", None))
    batch.events.append(EventRecord("e-1", "claude_code.user_prompt", "claude_code", 5, "s-1", "p-1", None, None,
                                    None, "日本語", "{}", "{}"))
    batch.llm_calls.append(LlmCallRecord("req:1", "s-1", 3, 12.5, usage, request_id="1", links=links))
    batch.tool_calls.append(ToolCallRecord("toolu_1", "s-1", tool_name="Bash", success=True, tool_input="ls"))
    batch.metric_points.append(MetricPointRecord("k", "claude_code.cost.usage", "sum", "delta", 1, 2, 0.25, "s-1",
                                                 None, None, "{}", "{}"))
    batch.sessions["s-1"] = SessionRecord("s-1", 1, 9, models={"b", "a"})
    return batch


def _message(records: bytes) -> dict[str, Any]:
    return {"org_id": "acme", **orjson.loads(records)}


def test_every_record_reads_back_whole() -> None:
    batch = _batch()
    message = _message(encode_records(batch))
    assert isinstance(message["spans"][0], list) and message["record_fields"]["Usage"][0] == "model"
    again = batch_from_message(message)
    for name in ("spans", "events", "llm_calls", "tool_calls", "metric_points"):
        assert getattr(again, name) == getattr(batch, name), name
    assert again.sessions == batch.sessions and again.sessions["s-1"].models == {"a", "b"}


def test_a_message_of_a_version_with_other_fields_reads_by_name() -> None:
    """Fields reordered, one the reader does not know (ignored, as a newer writer's), one the writer did not have
    (its default)."""
    batch = _batch()
    message = _message(encode_records(batch))
    names = message["record_fields"]["ToolCallRecord"]
    row = dict(zip(names, message["tool_calls"][0], strict=True))
    row["from_the_future"] = 1
    written = ["from_the_future", *reversed([n for n in names if n != "approval_wait_ms"])]
    message["record_fields"]["ToolCallRecord"] = written
    message["tool_calls"] = [[row[n] for n in written]]
    assert batch_from_message(message).tool_calls == [dataclasses.replace(batch.tool_calls[0], approval_wait_ms=None)]


def test_records_written_as_objects_read_back() -> None:
    """As hook messages write them, and as ingest wrote them before rows."""
    batch = _batch()
    message = {"org_id": "acme", "spans": [orjson.loads(orjson.dumps(s)) for s in batch.spans],
               "session_records": [{"session_id": "s-1", "first_seen_ns": 1, "last_seen_ns": 9, "models": ["a"]}]}
    again = batch_from_message(message)
    assert again.spans == batch.spans and again.sessions["s-1"].models == {"a"}


@pytest.mark.parametrize("rows", [[["too", "few"]], ["not a row"]])
def test_a_row_that_does_not_fit_is_a_clear_error(rows: list[Any]) -> None:
    message = _message(encode_records(_batch()))
    message["tool_calls"] = rows
    with pytest.raises(InvalidPayload, match="ToolCallRecord"):
        batch_from_message(message)
