"""Domain error hierarchy; each error knows its HTTP status and whether a retry can succeed."""

from __future__ import annotations

from typing import ClassVar


class CoreError(Exception):
    """Base of every error the domain raises on purpose."""

    status: ClassVar[int] = 400
    retryable: ClassVar[bool] = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidPayload(CoreError):
    """The body cannot be decoded (permanently bad data)."""


class BadParameter(CoreError):
    """A query or path parameter is malformed; the message names it."""


class InvalidCursor(BadParameter, ValueError):
    """A pagination cursor that does not decode (400). Also a ValueError, so a pydantic validator that raises it
    reports the parameter like any other malformed value."""


class UnsupportedMediaType(CoreError):
    status = 415


class PayloadTooLarge(CoreError):
    status = 413


class MethodNotAllowed(CoreError):
    status = 405


class Unauthenticated(CoreError):
    status = 401


class Forbidden(CoreError):
    status = 403


class NotFound(CoreError):
    status = 404


class Conflict(CoreError):
    """A create names an id that already exists (in the caller's org)."""

    status = 409


class PermanentError(CoreError):
    """A message that can never succeed, however often it is redelivered: it goes to the dead letters."""

    permanent: ClassVar[bool] = True


class StorageUnavailable(CoreError):
    """The store cannot take the write now; the client should retry later."""

    status = 503
    retryable = True


class AnalyticsNotConfigured(CoreError):
    """A route of the analytics store on a deployment without one (OBSERVATORY_CLICKHOUSE_URL unset)."""

    status = 503
