"""Recomputes computed cost of stored LLM calls and spans after the price table changed (in the Store, and in the
analytics history, which keeps its own copy of every call and span)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from core.normalise.usage import price
from core.pricing import PriceTable
from core.records import LlmCallRecord

_CHUNK = 1000


class PricedFacts(Protocol):
    """What holds priced calls and spans: the Store, and the analytics history (TelemetryHistory)."""

    def iter_priced(self) -> Iterator[tuple[str, str, str, LlmCallRecord]]: ...

    def update_computed_costs(self, table: str, rows: list[tuple[str, str, LlmCallRecord]]) -> None: ...


def reprice(facts: PricedFacts, prices: PriceTable, chunk: int = _CHUNK) -> dict[str, int]:
    """Price every call and span again; ``chunk`` rows per update. Returns the counts per table and the unpriced."""
    counts = {"llm_calls": 0, "spans": 0, "unpriced": 0}
    pending: dict[str, list[tuple[str, str, LlmCallRecord]]] = {"llm_calls": [], "spans": []}
    for table, org, key, record in facts.iter_priced():
        price(record.usage, prices)
        counts[table] += 1
        counts["unpriced"] += record.usage.unpriced
        pending[table].append((org, key, record))
        if len(pending[table]) >= chunk:
            facts.update_computed_costs(table, pending[table])
            pending[table] = []
    for table, rows in pending.items():
        if rows:
            facts.update_computed_costs(table, rows)
    return counts
