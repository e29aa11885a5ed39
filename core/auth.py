"""API-key resolver: turns a request's key into (org, scopes); the one place every route authenticates."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from core.errors import Forbidden, Unauthenticated

DEFAULT_ORG = "default"
SCOPES = frozenset({"ingest", "read", "write"})


class Headers(Protocol):
    def get(self, key: str, /) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Principal:
    org_id: str
    scopes: frozenset[str]


_ANONYMOUS = Principal(DEFAULT_ORG, SCOPES)


@dataclass(frozen=True, slots=True)
class _Key:
    digest: bytes
    org_id: str
    scopes: frozenset[str]


class KeyResolver:
    """Resolves keys configured as JSON: ``{"keys": [{"key": "...", "org": "acme", "scopes": ["ingest"]}]}``.

    Several keys may map to one org (rotation: add the new key, move clients, remove the old one).
    With no keys configured auth is off and every request acts for org ``default`` with all scopes.
    Only SHA-256 digests are kept in memory, and every configured digest is compared in constant time
    so the answer's timing does not depend on which key (if any) matched.
    """

    def __init__(self, keys: list[_Key]) -> None:
        self._keys = keys

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    @classmethod
    def from_config(cls, inline: str = "", file: str = "") -> KeyResolver:
        source = "OBSERVATORY_API_KEYS"
        raw = inline
        if file:
            source, raw = file, Path(file).read_text(encoding="utf-8")
        if not raw.strip():
            return cls([])
        try:
            doc = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{source}: API keys are not valid JSON ({exc.msg})") from exc
        entries = doc.get("keys") if isinstance(doc, dict) else doc
        if not isinstance(entries, list):
            raise ValueError(f"{source}: expected a list of keys or an object with a 'keys' list")
        keys: list[_Key] = []
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or not entry.get("key") or not entry.get("org"):
                raise ValueError(f"{source}: key #{i} needs non-empty 'key' and 'org'")
            scopes = frozenset(entry.get("scopes") or SCOPES)
            unknown = scopes - SCOPES
            if unknown:
                raise ValueError(f"{source}: key #{i} has unknown scopes {sorted(unknown)}")
            keys.append(_Key(_digest(str(entry["key"])), str(entry["org"]), scopes))
        return cls(keys)

    def resolve(self, presented: str | None) -> Principal | None:
        """The principal of a key, or None when the key is unknown (or auth is off: anonymous)."""
        if not self._keys:
            return _ANONYMOUS
        if not presented:
            return None
        digest = _digest(presented)
        found: _Key | None = None
        for key in self._keys:  # no early exit: constant time over the key set
            if hmac.compare_digest(key.digest, digest):
                found = key
        return Principal(found.org_id, found.scopes) if found else None

    def authorize(self, headers: Headers, scope: str) -> Principal:
        """The caller's principal if it holds ``scope``; raises 401 / 403 otherwise."""
        principal = self.resolve(key_from_headers(headers))
        if principal is None:
            raise Unauthenticated("missing or invalid API key")
        if scope not in principal.scopes:
            raise Forbidden(f"API key lacks the '{scope}' scope")
        return principal


def key_from_headers(headers: Headers) -> str | None:
    auth = headers.get("Authorization") or ""
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return headers.get("X-Observatory-Ingest-Token") or headers.get("X-Observatory-Key") or None


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()
