"""Session aggregates recomputed from facts: the seed's SessionMetricsSummary, joined once per call."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.metric_math import Increment, increments
from core.normalise.attributes import MAX_COUNT
from core.ports.store import Store
from core.pricing import PriceTable, normalise_model_name

if TYPE_CHECKING:
    from core.models import SessionMetricsSummary

TOKEN_METRICS = frozenset({"claude_code.token.usage", "gemini_cli.token.usage", "gen_ai.client.token.usage"})
COST_METRICS = frozenset({"claude_code.cost.usage"})
# An SDK may open a delta interval at the first measurement, which the event of the same call precedes by
# moments; an interval is also covered by a call this little before its start.
_COVER_SLACK_NS = 5_000_000_000


def _covered(inc: Increment, calls_by_model: dict[str, list[int]]) -> bool:
    """Whether an event or span already reported a call of this model inside the increment's interval."""
    if not inc.model:
        return bool(calls_by_model)
    times = calls_by_model.get(normalise_model_name(inc.model), [])
    start = inc.start_ns - _COVER_SLACK_NS if inc.start_ns else -1
    return any(start < t <= inc.end_ns for t in times)


def session_summary(
    store: Store, prices: PriceTable, org_id: str, session_id: str
) -> SessionMetricsSummary | None:
    from core.models import SessionMetricsSummary

    facts = store.session_facts(org_id, session_id)
    if facts is None:
        return None
    s = SessionMetricsSummary(session_id=session_id)
    calls_by_model: dict[str, list[int]] = {}
    for c in facts.calls:
        s.tokens_in += c.tokens_in
        s.tokens_out += c.tokens_out
        s.cache_read_tokens += c.cache_read_tokens
        s.cache_creation_tokens += c.cache_creation_tokens
        s.reasoning_tokens += c.reasoning_tokens
        s.total_cost_usd += c.cost_usd
        s.cache_savings_usd += c.cache_savings_usd
        s.unpriced_calls += c.unpriced
        calls_by_model.setdefault(normalise_model_name(c.model or ""), []).append(c.time_ns)
    _add_metrics(s, increments(facts.points), calls_by_model, prices)
    failed_calls = sum(1 for c in facts.calls if not c.success)
    s.turn_count = len(facts.calls)
    s.tool_calls = facts.tool_calls
    s.span_count = facts.span_count
    s.error_count = facts.failed_tool_calls + failed_calls + facts.api_errors
    operations = s.turn_count + s.tool_calls + facts.api_errors
    s.success_rate = round((operations - s.error_count) / operations, 4) if operations else 0.0
    if facts.started_at and facts.last_seen_at:
        s.duration_ms = int((facts.last_seen_at - facts.started_at).total_seconds() * 1000)
    s.total_cost_usd = round(s.total_cost_usd, 10)
    s.cache_savings_usd = round(s.cache_savings_usd, 10)
    return s


def _add_metrics(
    s: SessionMetricsSummary, incs: list[Increment], calls_by_model: dict[str, list[int]], prices: PriceTable
) -> None:
    """Metric points count only for (model, interval) pairs no event or span reported (DESIGN §3). Every metric
    read here is a counter: an increment below 0 or above MAX_COUNT (a cost above MAX_COUNT USD) is garbage and
    counts as nothing, as the normalisers read such a count on a call."""
    tokens: dict[str, dict[str, float]] = {}
    metric_cost: dict[str, float] = {}
    for inc in incs:
        if not 0 <= inc.value <= MAX_COUNT:
            continue
        name, kind = inc.name, (inc.label_type or "").lower()
        if name in TOKEN_METRICS or name in COST_METRICS:
            if _covered(inc, calls_by_model):
                continue
            model = inc.model or ""
            if name in COST_METRICS:
                metric_cost[model] = metric_cost.get(model, 0.0) + inc.value
            else:
                per = tokens.setdefault(model, {})
                per[kind] = per.get(kind, 0.0) + inc.value
        elif name in ("claude_code.lines_of_code.count", "gemini_cli.lines.changed"):
            if kind == "added":
                s.lines_added += int(inc.value)
            elif kind == "removed":
                s.lines_removed += int(inc.value)
        elif name == "claude_code.commit.count":
            s.commit_count += int(inc.value)
        elif name == "claude_code.pull_request.count":
            s.pull_request_count += int(inc.value)
        elif name == "claude_code.active_time.total":
            s.active_time_ms += int(inc.value * 1000)
    for model, per in tokens.items():
        cache_read = int(per.get("cacheread", 0) + per.get("cache", 0))
        cache_write = int(per.get("cachecreation", 0))
        raw_in = int(per.get("input", 0))
        # Gemini's input count includes cached content; Claude Code's does not.
        tokens_in = max(raw_in - int(per.get("cache", 0)), 0)
        tokens_out = int(per.get("output", 0))
        reasoning = int(per.get("thought", 0))
        s.tokens_in += tokens_in
        s.tokens_out += tokens_out
        s.cache_read_tokens += cache_read
        s.cache_creation_tokens += cache_write
        s.reasoning_tokens += reasoning
        s.tokens_from_metrics = True
        if model in metric_cost:
            s.total_cost_usd += metric_cost.pop(model)
        else:
            cost = prices.cost(model, tokens_in, tokens_out, cache_read, cache_write, reasoning)
            if cost is None:
                s.unpriced_calls += 1
            else:
                s.total_cost_usd += cost
        s.cache_savings_usd += prices.cache_savings(model, cache_read)
    s.total_cost_usd += sum(metric_cost.values())
