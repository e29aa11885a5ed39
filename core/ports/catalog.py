"""CatalogStore: the Store port's methods for the catalog API area (every method scoped to one org)."""

from __future__ import annotations

from abc import ABC


class CatalogStore(ABC):  # noqa: B024 - filled by the area's methods
    pass
