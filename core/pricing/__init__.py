"""Model pricing: the shipped price table, name normalisation and the process-wide table instance."""

from __future__ import annotations

import functools
import os

from core.pricing.models import normalise_model_name
from core.pricing.table import ModelPrice, PriceTable

__all__ = ["OVERRIDES_ENV", "ModelPrice", "PriceTable", "get_price_table", "normalise_model_name",
           "reset_price_table_cache"]

OVERRIDES_ENV = "OBSERVATORY_PRICE_OVERRIDES"


@functools.cache
def get_price_table() -> PriceTable:
    """The shared table: packaged prices plus the file named by OBSERVATORY_PRICE_OVERRIDES, loaded once."""
    return PriceTable.load(os.environ.get(OVERRIDES_ENV) or None)


def reset_price_table_cache() -> None:
    """Forget the shared table so the next get_price_table() re-reads prices (tests, repricing)."""
    get_price_table.cache_clear()
