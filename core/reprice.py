"""Recomputes computed cost of stored LLM calls and spans after the price table changed."""

from __future__ import annotations

from core.normalise.usage import price
from core.ports.store import Store
from core.pricing import PriceTable
from core.records import LlmCallRecord

_CHUNK = 1000


def reprice(store: Store, prices: PriceTable) -> dict[str, int]:
    counts = {"llm_calls": 0, "spans": 0, "unpriced": 0}
    pending: dict[str, list[tuple[str, str, LlmCallRecord]]] = {"llm_calls": [], "spans": []}
    for table, org, key, record in store.iter_priced():
        price(record.usage, prices)
        counts[table] += 1
        counts["unpriced"] += record.usage.unpriced
        pending[table].append((org, key, record))
        if len(pending[table]) >= _CHUNK:
            store.update_computed_costs(table, pending[table])
            pending[table] = []
    for table, rows in pending.items():
        if rows:
            store.update_computed_costs(table, rows)
    return counts
