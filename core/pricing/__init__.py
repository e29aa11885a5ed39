"""Model pricing: the shipped price table and model-name normalisation (the container owns the instance)."""

from __future__ import annotations

from core.pricing.models import normalise_model_name
from core.pricing.table import ModelPrice, PriceTable

__all__ = ["ModelPrice", "PriceTable", "normalise_model_name"]
