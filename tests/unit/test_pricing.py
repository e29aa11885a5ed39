"""Unit tests for core.pricing: name normalisation, cost arithmetic, overrides and the shared table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.pricing import (
    ModelPrice,
    PriceTable,
    normalise_model_name,
)
from core.pricing.models import canonical_spelling


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return PriceTable.load()


def _write(tmp_path: Path, document: object, name: str = "override.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)


# --- normalisation -------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "expected"), [
    ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
    ("claude-sonnet-4.5", "claude-sonnet-4-5"),
    ("Claude-Sonnet-4.5", "claude-sonnet-4-5"),
    ("anthropic/claude-sonnet-4-5", "claude-sonnet-4-5"),
    ("anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5"),
    ("us.anthropic.claude-3-5-haiku-20241022-v1:0", "claude-haiku-3-5"),
    ("bedrock/global.anthropic.claude-opus-4-1-20250805-v1:0", "claude-opus-4-1"),
    ("vertex_ai/claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
    ("claude-3-5-haiku-latest", "claude-haiku-3-5"),
    ("claude-haiku-3-5", "claude-haiku-3-5"),
    ("claude-3-7-sonnet-20250219", "claude-sonnet-3-7"),
    ("claude-3-haiku-20240307", "claude-haiku-3"),
    ("claude-opus-4-0", "claude-opus-4"),
    ("claude-opus-4-20250514", "claude-opus-4"),
    ("claude-sonnet-4-5[1m]", "claude-sonnet-4-5"),
    ("models/gemini-2.5-pro", "gemini-2.5-pro"),
    ("google/gemini-2.5-flash", "gemini-2.5-flash"),
    ("gemini-2-5-flash-lite", "gemini-2.5-flash-lite"),
    ("gemini-2.0-flash-001", "gemini-2.0-flash"),
    ("gemini-3-pro-preview", "gemini-3-pro-preview"),
    ("gemini-3-flash-preview-12-2025", "gemini-3-flash-preview"),
    ("openai/gpt-4.1-2025-04-14", "gpt-4.1"),
    ("gpt-4-1-mini", "gpt-4.1-mini"),
    ("gpt-4o-2024-08-06", "gpt-4o"),
    ("gpt-5-mini-2025-08-07", "gpt-5-mini"),
    ("o3-2025-04-16", "o3"),
    ("gpt-4-0613", "gpt-4-0613"),  # a snapshot number, not a minor version: never dotted
    ("deepseek-v3", "deepseek-v3"),  # a -vN that is part of the name survives
])
def test_normalise_model_name(raw: str, expected: str) -> None:
    assert normalise_model_name(raw) == expected


def test_packaged_keys_are_canonical(table: PriceTable) -> None:
    for price in table.models():
        assert canonical_spelling(price.model) == price.model
        assert price.source.startswith("https://")
        assert price.as_of
        assert min(price.input, price.output, price.cache_read, price.cache_write) >= 0


# --- lookup --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "key"), [
    ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
    ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
    ("claude-3-5-haiku-20241022", "claude-haiku-3-5"),
    ("gemini-2-5-pro", "gemini-2.5-pro"),
    ("models/gemini-3-pro-preview", "gemini-3-pro-preview"),
    ("GPT-4.1", "gpt-4.1"),
    ("gpt-4o-2024-08-06", "gpt-4o"),
    ("gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),  # a snapshot with its own price wins over the family
    ("o4-mini-2025-04-16", "o4-mini"),
])
def test_lookup_resolves_spellings(table: PriceTable, raw: str, key: str) -> None:
    price = table.lookup(raw)
    assert price is not None
    assert price.model == key


@pytest.mark.parametrize("raw", [None, "", "claude-sonnet-9", "gpt-4", "o3-mini",
                                 "gemini-2.5-flash-preview-05-20", "llama-3.1-70b", "claude-3-opus"])
def test_lookup_unknown_is_none_never_a_guess(table: PriceTable, raw: str | None) -> None:
    assert table.lookup(raw) is None


def test_lookup_is_cached_per_raw_name(table: PriceTable) -> None:
    first = table.lookup("claude-opus-4-6-20260205")
    assert first is not None and first.model == "claude-opus-4-6"
    assert table.lookup("claude-opus-4-6-20260205") is first


def test_published_prices(table: PriceTable) -> None:
    def get(name: str) -> ModelPrice:
        price = table.lookup(name)
        assert price is not None
        return price

    sonnet = get("claude-sonnet-4-5")
    assert (sonnet.input, sonnet.output, sonnet.cache_read, sonnet.cache_write) == (3.0, 15.0, 0.3, 3.75)
    opus41 = get("claude-opus-4-1")
    assert (opus41.input, opus41.output, opus41.cache_read, opus41.cache_write) == (15.0, 75.0, 1.5, 18.75)
    opus46 = get("claude-opus-4-6")
    assert (opus46.input, opus46.output, opus46.cache_read, opus46.cache_write) == (5.0, 25.0, 0.5, 6.25)
    haiku3 = get("claude-3-haiku")
    assert (haiku3.input, haiku3.output) == (0.25, 1.25)
    pro = get("gemini-2.5-pro")
    assert (pro.input, pro.output, pro.cache_read, pro.cache_write) == (1.25, 10.0, 0.125, 0.0)
    assert "200k" in pro.notes
    gpt5 = get("gpt-5")
    assert (gpt5.input, gpt5.output, gpt5.cache_read, gpt5.cache_write) == (1.25, 10.0, 0.125, 0.0)


# --- cost ----------------------------------------------------------------------------------------

def test_cost_with_cache_sonnet_4_5(table: PriceTable) -> None:
    # 1000 in * $3 + 500 out * $15 + 2000 cache reads * $0.30 + 100 cache writes * $3.75, per million
    # = (3000 + 7500 + 600 + 375) / 1e6
    cost = table.cost("claude-sonnet-4-5-20250929", 1000, 500, cache_read=2000, cache_creation=100)
    assert cost == pytest.approx(0.011475, abs=1e-12)


def test_cost_reasoning_priced_as_output(table: PriceTable) -> None:
    # gpt-5: 10_000 in * 1.25 + (1_000 out + 4_000 reasoning) * 10 + 50_000 cached * 0.125
    cost = table.cost("gpt-5-2025-08-07", 10_000, 1_000, cache_read=50_000, reasoning=4_000)
    assert cost == pytest.approx((12_500 + 50_000 + 6_250) / 1e6, abs=1e-12)


def test_cost_gemini_no_cache_write_price(table: PriceTable) -> None:
    cost = table.cost("gemini-2.5-flash", 1_000_000, 0, cache_creation=1_000_000)
    assert cost == pytest.approx(0.30, abs=1e-12)


def test_cost_unknown_model_is_none_and_zero_tokens_zero(table: PriceTable) -> None:
    assert table.cost("mystery-model-1", 100, 100) is None
    assert table.cost(None, 100, 100) is None
    assert table.cost("claude-haiku-4-5", 0, 0) == 0.0


def test_cache_savings(table: PriceTable) -> None:
    # claude-sonnet-4-5: 1M cache reads save (3.00 - 0.30) USD
    assert table.cache_savings("claude-sonnet-4-5", 1_000_000) == pytest.approx(2.7, abs=1e-12)
    assert table.cache_savings("gpt-4o", 2_000) == pytest.approx(2_000 * 1.25 / 1e6, abs=1e-15)
    assert table.cache_savings("mystery-model-1", 1_000_000) == 0.0
    assert table.cache_savings("claude-sonnet-4-5", 0) == 0.0


def test_models_sorted_and_complete(table: PriceTable) -> None:
    keys = [price.model for price in table.models()]
    assert keys == sorted(keys)
    for expected in ("claude-opus-4", "claude-opus-4-1", "claude-opus-4-5", "claude-opus-4-6",
                     "claude-sonnet-4", "claude-sonnet-4-5", "claude-sonnet-4-6", "claude-sonnet-3-7",
                     "claude-haiku-4-5", "claude-haiku-3-5", "claude-haiku-3", "gemini-2.5-pro",
                     "gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-2.0-flash", "gemini-3-pro-preview",
                     "gemini-3-flash-preview", "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-5",
                     "gpt-5-mini", "o3", "o4-mini"):
        assert expected in keys


# --- overrides -----------------------------------------------------------------------------------

def test_override_adds_model_and_corrects_price(tmp_path: Path) -> None:
    path = _write(tmp_path, {"version": 1, "models": {
        "acme-coder-2": {"input": 1.0, "output": 2.0, "cache_read": 0.1, "cache_write": 0.0,
                         "source": "https://acme.example/pricing", "as_of": "2026-11-01"},
        # partial entry for a known model, spelt with dots: corrects only the input price
        "claude-sonnet-4.5": {"input": 2.5},
    }})
    table = PriceTable.load(path)

    acme = table.lookup("acme/acme-coder-2")
    assert acme == ModelPrice("acme-coder-2", 1.0, 2.0, 0.1, 0.0, "https://acme.example/pricing",
                              "2026-11-01")
    assert table.cost("acme-coder-2", 1_000_000, 1_000_000) == pytest.approx(3.0)

    sonnet = table.lookup("claude-sonnet-4-5-20250929")
    assert sonnet is not None
    assert (sonnet.input, sonnet.output, sonnet.cache_read) == (2.5, 15.0, 0.3)
    assert sonnet.source == path  # a corrected price is attributed to the override, not the vendor
    # the packaged table is untouched
    packaged = PriceTable.load().lookup("claude-sonnet-4-5")
    assert packaged is not None and packaged.input == 3.0


def test_override_new_model_without_cache_prices_pays_input_rate(tmp_path: Path) -> None:
    table = PriceTable.load(_write(tmp_path, {"models": {"acme-mini": {"input": 0.5, "output": 1.0}}}))
    price = table.lookup("acme-mini")
    assert price is not None
    assert (price.cache_read, price.cache_write) == (0.5, 0.5)


@pytest.mark.parametrize(("document", "problem"), [
    ({"models": {"acme-x": {"input": 1.0}}}, "model 'acme-x': missing 'output'"),
    ({"models": {"acme-x": {"input": 1.0, "output": -2}}}, "model 'acme-x': 'output' is negative"),
    ({"models": {"acme-x": {"input": "1.0", "output": 2}}}, "model 'acme-x': 'input' must be a number"),
    ({"models": {"acme-x": {"input": True, "output": 2}}}, "'input' must be a number"),
    ({"models": {"acme-x": {"input": 1, "output": 2, "ouput": 3}}}, "model 'acme-x': unknown field(s) ouput"),
    ({"models": {"acme-x": [1, 2]}}, "model 'acme-x': entry must be a JSON object"),
    ({"models": {"gpt-4.1": {"input": 1}, "gpt-4-1": {"input": 2}}}, "are the same model"),
    ({"models": []}, "'models' must be a JSON object"),
    ({"version": 2, "models": {}}, "unsupported version 2"),
    ([1, 2], "top level must be a JSON object"),
])
def test_malformed_override_raises_naming_file(tmp_path: Path, document: object, problem: str) -> None:
    path = _write(tmp_path, document, "bad-prices.json")
    with pytest.raises(ValueError) as err:
        PriceTable.load(path)
    assert path in str(err.value)
    assert problem in str(err.value)


def test_override_invalid_json_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="broken.json.*invalid JSON"):
        PriceTable.load(str(bad))
    with pytest.raises(ValueError, match="absent.json.*cannot read"):
        PriceTable.load(str(tmp_path / "absent.json"))


def test_the_container_loads_the_override_file_named_by_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions import _bootstrap

    monkeypatch.setenv("OBSERVATORY_PRICE_OVERRIDES", _write(tmp_path, {"models": {"acme-env": {"input": 4,
                                                                                                "output": 8}}}))
    _bootstrap.reset()
    assert _bootstrap.container().prices.lookup("acme-env") is not None
