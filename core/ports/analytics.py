"""The Analytics port: where the export worker hands each ingested batch (ClickHouse when configured)."""

from __future__ import annotations

from abc import ABC, abstractmethod


class Analytics(ABC):
    @property
    @abstractmethod
    def configured(self) -> bool:
        """False for the placeholder that drops exports (and says so in the log)."""

    @abstractmethod
    def export_batch(self, org_id: str, payload: bytes) -> None:
        """Export one `telemetry-ingested` message of `org_id`; idempotent under redelivery. Raises
        core.errors.StorageUnavailable when the analytics store cannot take it now (the message is redelivered)."""
