"""The LLM-call join rule: one call reported by an event and a span is stored once (DESIGN §3)."""

from __future__ import annotations

from dataclasses import replace

from core.ports.store import IngestUnitOfWork
from core.pricing import normalise_model_name
from core.records import LlmCallRecord


def _same_usage(a: LlmCallRecord, b: LlmCallRecord) -> bool:
    """Same model and token counts. Input is compared both as the exclusive count and as the total with
    cache, so a producer that put cache inside its input count still matches."""
    ua, ub = a.usage, b.usage
    if not ua.model or not ub.model or normalise_model_name(ua.model) != normalise_model_name(ub.model):
        return False
    if ua.tokens_out != ub.tokens_out:
        return False
    total_a = ua.tokens_in + ua.cache_read_tokens + ua.cache_creation_tokens
    total_b = ub.tokens_in + ub.cache_read_tokens + ub.cache_creation_tokens
    return ua.tokens_in == ub.tokens_in or total_a == total_b


def _same_record(a: LlmCallRecord, b: LlmCallRecord) -> bool:
    return bool((a.span_id and a.span_id == b.span_id and a.trace_id == b.trace_id)
                or (a.event_key and a.event_key == b.event_key))


def _complementary(stored: LlmCallRecord, incoming: LlmCallRecord) -> bool:
    if incoming.source == "event":
        return stored.event_key is None and stored.request_id is None
    return stored.span_id is None


def merge(stored: LlmCallRecord, incoming: LlmCallRecord) -> LlmCallRecord:
    """The event side gives request id, tokens and provided cost; the span side gives response id,
    trace/span ids, duration and links. The stored key is kept so the row stays where it is."""
    event, span = (incoming, stored) if incoming.source == "event" else (stored, incoming)
    if event.event_key is None and event.request_id is None:  # both are spans (a replay): take incoming
        return replace(incoming, call_key=stored.call_key, source=stored.source)
    if span.span_id is None:  # both are events (a replay)
        return replace(incoming, call_key=stored.call_key, source=stored.source,
                       response_id=stored.response_id, trace_id=stored.trace_id, span_id=stored.span_id)
    return replace(
        event,
        call_key=stored.call_key,
        response_id=span.response_id,
        trace_id=span.trace_id,
        span_id=span.span_id,
        duration_ms=span.duration_ms if span.duration_ms is not None else event.duration_ms,
        links=span.links if any((span.links.task_id, span.links.chain_id)) else event.links,
        prompt_id=event.prompt_id or span.prompt_id,
        source="event+span",
    )


def _by_ids(by_id: dict[str, LlmCallRecord], call: LlmCallRecord) -> LlmCallRecord | None:
    for i in (call.request_id, call.response_id):
        if i and i in by_id:
            return by_id[i]
    return None


def join_llm_calls(
    uow: IngestUnitOfWork, org_id: str, calls: list[LlmCallRecord], window_ns: int
) -> list[LlmCallRecord]:
    """Resolve each incoming call against stored and same-batch calls; returns the rows to upsert."""
    ids = [i for c in calls for i in (c.request_id, c.response_id) if i]
    by_id: dict[str, LlmCallRecord] = {}
    for rec in uow.llm_calls_by_ids(org_id, ids):
        for i in (rec.request_id, rec.response_id):
            if i:
                by_id[i] = rec
    # One candidate query per session per batch, covering every call of the session plus the window.
    stored: dict[str, list[LlmCallRecord]] = {}
    spans: dict[str, tuple[int, int]] = {}
    outs: dict[str, list[int]] = {}
    for c in calls:
        if c.session_id:
            lo, hi = spans.get(c.session_id, (c.time_ns, c.time_ns))
            spans[c.session_id] = (min(lo, c.time_ns), max(hi, c.time_ns))
            outs.setdefault(c.session_id, []).append(c.usage.tokens_out)
    for session_id, (lo, hi) in spans.items():
        stored[session_id] = uow.llm_call_candidates(
            org_id, session_id, lo - window_ns, hi + window_ns, outs[session_id])
    pending: dict[str, LlmCallRecord] = {}
    for call in calls:
        match = _by_ids(by_id, call)
        if not match and call.session_id:
            pool = [p for p in pending.values() if p.session_id == call.session_id] + [
                p for p in stored[call.session_id] if abs(p.time_ns - call.time_ns) <= window_ns
            ]
            match = next((p for p in pool if _same_record(p, call)), None) or next(
                (p for p in pool if _complementary(p, call) and _same_usage(p, call)), None
            )
        if match:
            pending_version = pending.get(match.call_key)
            merged = merge(pending_version or match, call)
        else:
            merged = call
        pending[merged.call_key] = merged
        for i in (merged.request_id, merged.response_id):
            if i:
                by_id[i] = merged
    return list(pending.values())
