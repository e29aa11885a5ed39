"""Golden fixtures, one per producer dialect: an OTLP/JSON request as the producer sends it, and the
normalised records expected from it (tests/fixtures/dialects/<name>.request.json / .expected.json).

The expected files were written from the dialect rules, not recorded from a run:
- ``tokens_in`` excludes cache reads and writes. Claude Code's ``input_tokens`` and the seed's counts already do;
  GenAI semconv, Gemini CLI and OpenInference input counts include the cache, which is subtracted.
- Reasoning / thoughts tokens are billed as output: on top of Gemini's ``output_token_count`` (which excludes
  them), but already inside semconv's ``gen_ai.usage.output_tokens``.
- A provided cost wins in ``cost_usd``; an unknown model has ``computed_cost_usd`` None and ``unpriced`` True.

Each fixture is compared section by section (spans, events, LLM calls, ...), so a failure names the section.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.ingest import IngestService
from core.otlp.codec import decode_request
from core.pricing import PriceTable
from core.records import Batch, Links, Usage
from core.span_filter import SpanFilter

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "dialects"
SECTIONS = ("spans", "events", "llm_calls", "tool_calls", "metric_points", "sessions", "rejected")
ORG = "org-dialects"

_PRICES = PriceTable.load()


def _fixture_names() -> list[str]:
    return sorted(p.name.removesuffix(".request.json") for p in FIXTURES.glob("*.request.json"))


def _service() -> IngestService:
    # normalise() never touches the store.
    return IngestService(store=None, prices=_PRICES, span_filter=SpanFilter.from_env({}))  # type: ignore[arg-type]


def _normalise(name: str) -> tuple[str, Batch]:
    body = (FIXTURES / f"{name}.request.json").read_bytes()
    signal, message = decode_request(None, body, "json")
    return signal, _service().normalise(ORG, signal, message)


def _r9(value: float | None) -> float | None:
    return None if value is None else round(value, 9)


def _usage(u: Usage) -> dict[str, Any]:
    return {
        "model": u.model, "provider": u.provider, "tokens_in": u.tokens_in, "tokens_out": u.tokens_out,
        "cache_read_tokens": u.cache_read_tokens, "cache_creation_tokens": u.cache_creation_tokens,
        "reasoning_tokens": u.reasoning_tokens, "provided_cost_usd": _r9(u.provided_cost_usd),
        "computed_cost_usd": _r9(u.computed_cost_usd), "cost_usd": _r9(u.cost_usd),
        "cache_savings_usd": _r9(u.cache_savings_usd), "unpriced": u.unpriced,
    }


def _links(lk: Links) -> dict[str, Any]:
    return {"task_id": lk.task_id, "assignment_id": lk.assignment_id, "chain_id": lk.chain_id,
            "stage_id": lk.stage_id, "message_id": lk.message_id}


def project(batch: Batch) -> dict[str, Any]:
    """The fields of a Batch the golden files pin, as plain JSON. Keys derived from an event's hash
    ("evt:<sha1>") are shown as "evt:#<index of that event in the batch>"; metric series keys as "s<n>" in
    order of first appearance (equal keys stay equal)."""
    event_index = {e.event_key: n for n, e in enumerate(batch.events)}

    def key(value: str) -> str:
        if value.startswith("evt:") and value[4:] in event_index:
            return f"evt:#{event_index[value[4:]]}"
        return value

    series: dict[str, str] = {}
    return {
        "spans": [{
            "trace_id": s.trace_id, "span_id": s.span_id, "parent_span_id": s.parent_span_id, "name": s.name,
            "kind": s.kind, "status": s.status, "status_message": s.status_message, "start_ns": s.start_ns,
            "end_ns": s.end_ns, "session_id": s.session_id, "service_name": s.service_name,
            "source_type": s.source_type, "workspace": s.workspace, "usage": _usage(s.usage),
            "links": _links(s.links),
        } for s in batch.spans],
        "events": [{
            "name": e.name, "dialect": e.dialect, "time_ns": e.time_ns, "session_id": e.session_id,
            "prompt_id": e.prompt_id, "trace_id": e.trace_id, "span_id": e.span_id, "severity": e.severity,
        } for e in batch.events],
        "llm_calls": [{
            "call_key": key(c.call_key), "session_id": c.session_id, "time_ns": c.time_ns,
            "duration_ms": None if c.duration_ms is None else round(c.duration_ms, 6), "request_id": c.request_id,
            "response_id": c.response_id, "trace_id": c.trace_id, "span_id": c.span_id,
            "event": event_index.get(c.event_key) if c.event_key else None, "prompt_id": c.prompt_id,
            "success": c.success, "source": c.source, "usage": _usage(c.usage), "links": _links(c.links),
        } for c in batch.llm_calls],
        "tool_calls": [{
            "tool_use_id": key(t.tool_use_id), "session_id": t.session_id, "tool_name": t.tool_name,
            "time_ns": t.time_ns, "duration_ms": t.duration_ms, "success": t.success, "error": t.error,
            "decision": t.decision, "decision_source": t.decision_source, "approval_wait_ms": t.approval_wait_ms,
            "tool_input": t.tool_input, "tool_result": t.tool_result, "trace_id": t.trace_id, "span_id": t.span_id,
        } for t in batch.tool_calls],
        "metric_points": [{
            "series": series.setdefault(p.series_key, f"s{len(series)}"), "name": p.name,
            "metric_type": p.metric_type, "temporality": p.temporality, "start_ns": p.start_ns,
            "time_ns": p.time_ns, "value": p.value, "session_id": p.session_id, "model": p.model,
            "label_type": p.label_type,
        } for p in batch.metric_points],
        "sessions": {sid: {
            "first_seen_ns": r.first_seen_ns, "last_seen_ns": r.last_seen_ns, "service_name": r.service_name,
            "source_type": r.source_type, "workspace": r.workspace, "user_id": r.user_id,
            "user_email": r.user_email, "account_org": r.account_org, "app_version": r.app_version,
            "terminal_type": r.terminal_type, "models": sorted(r.models),
        } for sid, r in batch.sessions.items()},
        "rejected": {"rejected": batch.rejected, "reasons": batch.reject_reasons, "filtered": batch.filtered,
                     "redactions": batch.redactions},
    }


def _expected(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.expected.json").read_text())
    return data


def _section_params() -> list[Any]:
    return [pytest.param(name, section, id=f"{name}-{section}") for name in _fixture_names() for section in SECTIONS]


def test_every_dialect_has_a_fixture() -> None:
    names = set(_fixture_names())
    assert {"claude_code_logs", "claude_code_metrics", "claude_code_metrics_cumulative", "claude_code_spans",
            "gemini_cli_logs", "gemini_cli_metrics", "gemini_cli_spans", "genai_semconv_old", "genai_semconv_new",
            "openinference", "seed_attributes"} <= names
    for name in names:
        assert (FIXTURES / f"{name}.expected.json").is_file(), name
        assert set(SECTIONS) | {"signal", "description"} == set(_expected(name)), name


@pytest.mark.parametrize(("name", "section"), _section_params())
def test_dialect_section(name: str, section: str) -> None:
    expected = _expected(name)
    signal, batch = _normalise(name)
    assert signal == expected["signal"]
    assert project(batch)[section] == expected[section]


@pytest.mark.parametrize("name", _fixture_names())
def test_protobuf_and_json_normalise_alike(name: str) -> None:
    """The same request sent as protobuf normalises to the same records (event keys included)."""
    signal, batch = _normalise(name)
    _, message = decode_request(None, (FIXTURES / f"{name}.request.json").read_bytes(), "json")
    _, decoded = decode_request(signal, message.SerializeToString(), "protobuf")
    assert project(_service().normalise(ORG, signal, decoded)) == project(batch)


def test_normalise_is_deterministic() -> None:
    """Event keys (and so the evt:#n projection) do not depend on the run: a replay maps to the same rows."""
    _, first = _normalise("claude_code_logs")
    _, again = _normalise("claude_code_logs")
    assert [e.event_key for e in first.events] == [e.event_key for e in again.events]
    assert [c.call_key for c in first.llm_calls] == [c.call_key for c in again.llm_calls]


def _log_request(record: dict[str, Any], service: str = "claude-code") -> bytes:
    return json.dumps({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeLogs": [{"logRecords": [record]}]}]}).encode()


def _attr(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": value}}


def test_event_timestamp_fallback_is_exact() -> None:
    """Without timeUnixNano, event.timestamp (ISO, ms precision) is the event time, to the nanosecond."""
    body = _log_request({"observedTimeUnixNano": "1760434299000000000",
                         "body": {"stringValue": "claude_code.user_prompt"},
                         "attributes": [_attr("event.name", "user_prompt"), _attr("session.id", "s-ts"),
                                        _attr("event.timestamp", "2025-10-14T09:30:05.123Z")]})
    signal, message = decode_request(None, body, "json")
    (event,) = _service().normalise(ORG, signal, message).events
    assert event.time_ns == 1760434205123000000


def test_body_repeating_the_prefixed_event_name_is_dropped() -> None:
    """A record named by LogRecord.eventName whose body only repeats that name keeps no body."""
    _, batch = _normalise("claude_code_logs")
    assert batch.events[2].name == "claude_code.api_request"
    assert batch.events[2].body is None


def test_body_repeating_the_event_name_is_dropped_when_event_name_has_no_prefix() -> None:
    _, batch = _normalise("claude_code_logs")
    assert batch.events[0].name == "claude_code.user_prompt"
    assert batch.events[0].body is None


def test_times_and_numbers_no_store_can_hold_are_refused_not_stored() -> None:
    """Times from 2100 on (past signed 64 bits, an ISO year 9999, or past what the analytics history's 32-bit
    seconds hold) reject their record; numbers past 64 bits, or not finite, read as absent: a store would fail the
    whole batch on them, and NaN would poison every sum."""
    records = [
        {"timeUnixNano": str(2**64 - 1), "attributes": [_attr("event.name", "user_prompt")]},
        {"timeUnixNano": "4102444800000000000", "attributes": [_attr("event.name", "user_prompt")]},
        {"observedTimeUnixNano": "1760434299000000000",
         "attributes": [_attr("event.name", "user_prompt"), _attr("event.timestamp", "9999-12-31T00:00:00Z")]},
        {"timeUnixNano": "1760434299000000000",
         "attributes": [_attr("event.name", "api_request"), _attr("session.id", "s-big"), _attr("model", "m"),
                        _attr("input_tokens", "1e400"), _attr("output_tokens", "inf"), _attr("cost_usd", "NaN"),
                        _attr("duration_ms", "-inf")]},
    ]
    body = json.dumps({"resourceLogs": [{"resource": {"attributes": [_attr("service.name", "claude-code")]},
                                         "scopeLogs": [{"logRecords": records}]}]}).encode()
    signal, message = decode_request(None, body, "json")
    batch = _service().normalise(ORG, signal, message)
    assert batch.reject_reasons == {"timestamp out of range": 3}
    (call,) = batch.llm_calls
    assert (call.usage.tokens_in, call.usage.tokens_out, call.usage.provided_cost_usd, call.duration_ms) == (
        0, 0, None, None)


def test_negative_counts_costs_and_durations_read_as_absent() -> None:
    """A negative token count, cost or duration is garbage that would lower every sum it joins; so is a count
    above 2^40, whose sums would overflow the 64-bit integers the stores sum in."""
    record = {"timeUnixNano": "1760434299000000000",
              "attributes": [_attr("event.name", "api_request"), _attr("session.id", "s-neg"), _attr("model", "m"),
                             _attr("input_tokens", "-5"), _attr("output_tokens", "7"),
                             _attr("cache_read_tokens", "-1"), _attr("cache_creation_tokens", str(2**40 + 1)),
                             _attr("cost_usd", "-0.5"), _attr("duration_ms", "-20")]}
    body = json.dumps({"resourceLogs": [{"resource": {"attributes": [_attr("service.name", "claude-code")]},
                                         "scopeLogs": [{"logRecords": [record]}]}]}).encode()
    signal, message = decode_request(None, body, "json")
    (call,) = _service().normalise(ORG, signal, message).llm_calls
    assert (call.usage.tokens_in, call.usage.tokens_out, call.usage.cache_read_tokens,
            call.usage.cache_creation_tokens) == (0, 7, 0, 0)
    assert (call.usage.provided_cost_usd, call.duration_ms) == (None, None)
