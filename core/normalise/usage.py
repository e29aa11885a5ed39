"""Model, provider, token and cost extraction for every dialect, and pricing of the result."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.normalise.attributes import first, to_amount, to_count, to_str
from core.pricing import PriceTable
from core.records import Usage

MODEL_KEYS = ("gen_ai.request.model", "gen_ai.response.model", "llm.model_name", "ailang.model", "ai.model",
              "model")
PROVIDER_KEYS = ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system", "ailang.provider",
                 "ai.provider")
COST_KEYS = ("gen_ai.usage.cost", "ailang.cost.usd", "ai.cost_usd", "task.cost_usd", "llm.cost", "cost_usd")

# Provider names follow the seed (claude / gemini) so its API consumers keep working.
_PROVIDERS = {
    "anthropic": "claude",
    "claude": "claude",
    "gemini": "gemini",
    "google": "gemini",
    "gcp.gemini": "gemini",
    "gcp.gen_ai": "gemini",
    "gcp.vertex_ai": "gemini",
    "vertex_ai": "gemini",
    "openai": "openai",
    "azure.ai.openai": "openai",
    "ollama": "ollama",
}


def provider_name(raw: Any, model: str | None = None) -> str | None:
    text = to_str(raw)
    if text:
        low = text.lower()
        return _PROVIDERS.get(low, low)
    if model:
        low = model.lower()
        if "claude" in low:
            return "claude"
        if "gemini" in low:
            return "gemini"
        if low.startswith(("gpt", "o1", "o3", "o4")):
            return "openai"
    return None


def _n(attrs: Mapping[str, Any], *keys: str) -> int:
    return to_count(first(attrs, keys)) or 0


USAGE_KEYS = frozenset(MODEL_KEYS + PROVIDER_KEYS + COST_KEYS + (
    "cache_read_tokens", "gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens",
    "llm.token_count.prompt_details.cache_read", "cache_creation_tokens", "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens", "llm.token_count.prompt_details.cache_write", "input_tokens",
    "ailang.tokens.input", "ai.tokens_in", "task.tokens_in", "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt", "output_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens",
    "llm.token_count.completion", "ailang.tokens.output", "ai.tokens_out", "task.tokens_out",
    "gen_ai.usage.reasoning.output_tokens", "llm.token_count.completion_details.reasoning",
))


def span_usage(attrs: Mapping[str, Any]) -> Usage:
    """Usage from span attributes of any dialect, converted to the exclusive ``tokens_in`` rule.

    - ``input_tokens`` / ``cache_*_tokens`` (Claude Code, Anthropic raw) and the seed's ``ailang.*``,
      ``ai.*``, ``task.*`` counts already exclude cache.
    - GenAI semconv (``gen_ai.usage.input_tokens`` / deprecated ``prompt_tokens``) and OpenInference
      (``llm.token_count.prompt``) include cache reads and writes, which are subtracted.
    """
    if USAGE_KEYS.isdisjoint(attrs):  # most spans carry no usage: skip the key-by-key search
        return Usage()
    model = to_str(first(attrs, MODEL_KEYS))
    provider = provider_name(first(attrs, PROVIDER_KEYS), model)
    cache_read = _n(attrs, "cache_read_tokens", "gen_ai.usage.cache_read.input_tokens",
                    "gen_ai.usage.cache_read_input_tokens", "llm.token_count.prompt_details.cache_read")
    cache_write = _n(attrs, "cache_creation_tokens", "gen_ai.usage.cache_creation.input_tokens",
                     "gen_ai.usage.cache_creation_input_tokens", "llm.token_count.prompt_details.cache_write")
    raw_in = to_count(first(attrs, ("input_tokens", "ailang.tokens.input", "ai.tokens_in", "task.tokens_in")))
    if raw_in is not None:
        tokens_in = raw_in
    else:
        inclusive = _n(attrs, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt")
        tokens_in = max(inclusive - cache_read - cache_write, 0)
    tokens_out = _n(attrs, "output_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens",
                    "llm.token_count.completion", "ailang.tokens.output", "ai.tokens_out", "task.tokens_out")
    reasoning = _n(attrs, "gen_ai.usage.reasoning.output_tokens", "llm.token_count.completion_details.reasoning")
    # GenAI semconv and OpenInference count reasoning inside the output; ours keeps it in its own field.
    tokens_out = max(tokens_out - reasoning, 0)
    return Usage(
        model=model,
        provider=provider,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        cache_read_tokens=cache_read,
        cache_creation_tokens=cache_write,
        reasoning_tokens=reasoning,
        provided_cost_usd=_provided_cost(first(attrs, COST_KEYS)),
    )


def _provided_cost(raw: Any) -> float | None:
    cost = to_amount(raw)
    # A zero cost is "not reported" in the seed's producers, not a free call.
    return cost if cost else None


def price(usage: Usage, table: PriceTable) -> Usage:
    """Fill computed cost, cache savings and the unpriced flag (an unknown model is never guessed)."""
    if not usage.model or not (usage.has_tokens or usage.reasoning_tokens):
        return usage
    cost = table.cost(usage.model, usage.tokens_in, usage.tokens_out, usage.cache_read_tokens,
                      usage.cache_creation_tokens, usage.reasoning_tokens)
    if cost is None:
        usage.computed_cost_usd = None
        usage.unpriced = True
        usage.cache_savings_usd = 0.0
    else:
        usage.computed_cost_usd = cost
        usage.unpriced = False
        usage.cache_savings_usd = table.cache_savings(usage.model, usage.cache_read_tokens)
    return usage
