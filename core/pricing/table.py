"""The model price table: shipped prices plus an override file, model lookup and pricing of token counts."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any

from core.pricing.models import alternate_spelling, canonical_spelling, normalise_model_name

__all__ = ["ModelPrice", "PriceTable"]

_PER_MILLION = 1_000_000.0
_PRICE_FIELDS = ("input", "output", "cache_read", "cache_write")
_TEXT_FIELDS = ("source", "as_of", "notes")
_KNOWN_FIELDS = frozenset(_PRICE_FIELDS + _TEXT_FIELDS)
_LOOKUP_CACHE_MAX = 4096  # raw model names come from telemetry, so the cache must not grow without bound
_PACKAGED = "prices.json"


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """Prices of one model, all in USD per million tokens."""

    model: str
    input: float
    output: float
    cache_read: float
    cache_write: float
    source: str
    as_of: str
    notes: str = ""


class PriceTable:
    """Model prices keyed by canonical model name; lookups never guess a similar model."""

    __slots__ = ("_lookup_cache", "_prices")

    def __init__(self, prices: Iterable[ModelPrice]) -> None:
        self._prices: dict[str, ModelPrice] = {}
        for price in prices:
            key = canonical_spelling(price.model)
            self._prices[key] = price if price.model == key else replace(price, model=key)
        self._lookup_cache: dict[str, ModelPrice | None] = {}

    @classmethod
    def load(cls, override_path: str | None = None) -> PriceTable:
        """Read the packaged prices.json, then merge `override_path` (same format) over it if given."""
        package = __package__ or "core.pricing"
        packaged = resources.files(package).joinpath(_PACKAGED)
        label = f"{package}/{_PACKAGED}"
        prices = _parse(_read_json(label, packaged.read_text(encoding="utf-8")), label, {})
        if override_path:
            try:
                with open(override_path, encoding="utf-8") as handle:
                    text = handle.read()
            except OSError as exc:
                raise _malformed(override_path, f"cannot read: {exc}") from exc
            prices = _parse(_read_json(override_path, text), override_path, prices)
        return cls(prices.values())

    def lookup(self, model: str | None) -> ModelPrice | None:
        """The price of `model` under any known spelling, or None for an unknown or empty name."""
        if not model:
            return None
        try:
            return self._lookup_cache[model]
        except KeyError:
            pass
        found = self._resolve(model)
        if len(self._lookup_cache) >= _LOOKUP_CACHE_MAX:
            self._lookup_cache.clear()
        self._lookup_cache[model] = found
        return found

    def cost(self, model: str | None, tokens_in: int, tokens_out: int, cache_read: int = 0,
             cache_creation: int = 0, reasoning: int = 0) -> float | None:
        """USD for one call; None when the model is unpriced.

        `tokens_in` excludes cache reads and writes (priced at cache_read / cache_write). `reasoning`
        is priced as output and added to `tokens_out`, so pass it only when `tokens_out` excludes it.
        """
        price = self.lookup(model)
        if price is None:
            return None
        micro = (tokens_in * price.input + (tokens_out + reasoning) * price.output
                 + cache_read * price.cache_read + cache_creation * price.cache_write)
        return micro / _PER_MILLION

    def cache_savings(self, model: str | None, cache_read: int) -> float:
        """USD saved by reading `cache_read` tokens from cache instead of paying the input price."""
        price = self.lookup(model)
        if price is None or not cache_read:
            return 0.0
        return cache_read * (price.input - price.cache_read) / _PER_MILLION

    def models(self) -> list[ModelPrice]:
        """Every priced model, sorted by key."""
        return [self._prices[key] for key in sorted(self._prices)]

    def _resolve(self, model: str) -> ModelPrice | None:
        # Exact snapshot first (a dated entry may carry its own price), then the family key, then the
        # family key spelt with dots/dashes swapped; nothing fuzzier, an unknown model stays unpriced.
        prices = self._prices
        found = prices.get(canonical_spelling(model))
        if found is not None:
            return found
        key = normalise_model_name(model)
        found = prices.get(key)
        if found is not None:
            return found
        alternate = alternate_spelling(key)
        return prices.get(alternate) if alternate else None


def _read_json(label: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _malformed(label, f"invalid JSON: {exc}") from exc


def _parse(document: Any, label: str, base: Mapping[str, ModelPrice]) -> dict[str, ModelPrice]:
    """Validate `document` and merge its entries over `base` (a copy is returned)."""

    def fail(problem: str) -> ValueError:
        return _malformed(label, problem)

    if not isinstance(document, dict):
        raise fail("top level must be a JSON object")
    version = document.get("version", 1)
    if version != 1:
        raise fail(f"unsupported version {version!r} (expected 1)")
    entries = document.get("models")
    if not isinstance(entries, dict):
        raise fail("'models' must be a JSON object of model name -> prices")

    merged = dict(base)
    seen: dict[str, str] = {}
    for name, entry in entries.items():
        key = canonical_spelling(name)
        if not key:
            raise fail(f"model {name!r}: empty model name")
        if key in seen:
            raise fail(f"models {seen[key]!r} and {name!r} are the same model ({key})")
        seen[key] = name
        if not isinstance(entry, dict):
            raise fail(f"model {name!r}: entry must be a JSON object")
        unknown = sorted(set(entry) - _KNOWN_FIELDS)
        if unknown:
            raise fail(f"model {name!r}: unknown field(s) {', '.join(unknown)}")
        merged[key] = _entry(name, key, entry, merged.get(key), label)
    return merged


def _malformed(label: str, problem: str) -> ValueError:
    return ValueError(f"price file {label}: {problem}")


def _entry(name: str, key: str, entry: Mapping[str, Any], existing: ModelPrice | None,
           label: str) -> ModelPrice:
    def fail(problem: str) -> ValueError:
        return _malformed(label, f"model {name!r}: {problem}")

    values: dict[str, float] = {}
    for field in _PRICE_FIELDS:
        if field not in entry:
            continue
        value = entry[field]
        # bool is an int subclass; true/false as a price is a typo, not a price.
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise fail(f"{field!r} must be a number, got {value!r}")
        if value < 0:
            raise fail(f"{field!r} is negative ({value})")
        values[field] = float(value)
    texts: dict[str, str] = {}
    for field in _TEXT_FIELDS:
        if field in entry:
            if not isinstance(entry[field], str):
                raise fail(f"{field!r} must be a string")
            texts[field] = entry[field]

    if existing is not None:
        # An entry for a known model corrects it field by field; without its own source it is
        # attributed to the override file so a corrected price is never credited to the vendor page.
        return ModelPrice(
            model=key,
            input=values.get("input", existing.input),
            output=values.get("output", existing.output),
            cache_read=values.get("cache_read", existing.cache_read),
            cache_write=values.get("cache_write", existing.cache_write),
            source=texts.get("source", label if values else existing.source),
            as_of=texts.get("as_of", existing.as_of),
            notes=texts.get("notes", existing.notes),
        )
    for field in ("input", "output"):
        if field not in values:
            raise fail(f"missing {field!r}")
    # Unknown cache prices are charged at the input price, never free, so a new entry cannot under-count.
    return ModelPrice(
        model=key,
        input=values["input"],
        output=values["output"],
        cache_read=values.get("cache_read", values["input"]),
        cache_write=values.get("cache_write", values["input"]),
        source=texts.get("source", label),
        as_of=texts.get("as_of", ""),
        notes=texts.get("notes", ""),
    )
