"""The span deny list: decide which spans are dropped at ingest (health checks, static assets, UI polling).

Pattern syntax (deny and allow lists alike):
  name       exact span name
  name*      prefix
  *name      suffix
  *name*     substring. The seed treated this as a prefix match on "name" (a quirk: "*health*" did not
             match "GET /api/health"); "contains" is what the syntax says, so that is what it does here.
  *          every span
  service:pattern   only when the resource's service.name equals `service` exactly. The part before the
             first ":" is a service only if it holds no "/", "*" or whitespace, so "/a:b" is a plain name.
A "*" anywhere else is a literal character.

Environment (read by SpanFilter.from_env):
  OBSERVATORY_SPAN_FILTER_DISABLE  true/1/yes/on: keep every span
  OBSERVATORY_SPAN_FILTER_ALLOW    comma list; a span matching it is kept even if the deny list matches
  OBSERVATORY_SPAN_FILTER_DENY     comma list appended to DEFAULT_DENY
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["DEFAULT_DENY", "ENV_ALLOW", "ENV_DENY", "ENV_DISABLE", "SpanFilter"]

ENV_DISABLE = "OBSERVATORY_SPAN_FILTER_DISABLE"
ENV_ALLOW = "OBSERVATORY_SPAN_FILTER_ALLOW"
ENV_DENY = "OBSERVATORY_SPAN_FILTER_DENY"

DEFAULT_DENY: tuple[str, ...] = (
    # The exporters' and tracing backends' own spans.
    "google.devtools.cloudtrace*",
    "opentelemetry.*",
    # Health checks.
    "/health",
    "health.check",
    "/api/health",
    # Static assets.
    "/assets/*",
    "*.js",
    "*.css",
    "*.png",
    "*.ico",
    "*.svg",
    # UI polling endpoints: high volume, no signal.
    "/api/approvals*",
    "/api/hierarchy*",
    "/api/statistics*",
    "/api/version*",
    "/api/monitor*",
    "/api/telemetry/config*",
    "/api/metrics*",
    "/api/observatory/traces*",
    "/api/observatory/metrics*",
    "/api/inbox*",
    "/api/budget/*",
    "/api/controlplane/*",
    "/api/coordinator/events",
    # Message-bus polling, noise only for the services that poll.
    "ailang-coordinator:messages.list",
    "ailang-coordinator:messages.count",
    "ailang-coordinator:inbox.poll",
    "ailang-coordinator:agent.heartbeat",
    "ailang-server:messages.list",
    "ailang-server:messages.count",
)

_TRUE = frozenset({"1", "true", "yes", "on"})
_CACHE_MAX = 8192  # span names are mostly a small set; the bound protects against unbounded name cardinality


@dataclass(frozen=True, slots=True)
class _Patterns:
    """One list of patterns split by kind, so matching is a set lookup and three tuple scans."""

    match_all: bool
    exact: frozenset[str]
    prefixes: tuple[str, ...]
    suffixes: tuple[str, ...]
    contains: tuple[str, ...]

    @classmethod
    def of(cls, patterns: Iterable[str]) -> _Patterns:
        match_all = False
        exact: set[str] = set()
        prefixes: list[str] = []
        suffixes: list[str] = []
        contains: list[str] = []
        for pattern in patterns:
            starts, ends = pattern.startswith("*"), pattern.endswith("*")
            core = pattern.strip("*") if starts or ends else pattern
            if not core:
                match_all = True
            elif starts and ends:
                contains.append(core)
            elif starts:
                suffixes.append(pattern[1:])
            elif ends:
                prefixes.append(pattern[:-1])
            else:
                exact.add(pattern)
        return cls(match_all, frozenset(exact), tuple(prefixes), tuple(suffixes), tuple(contains))

    def matches(self, name: str) -> bool:
        if self.match_all or name in self.exact:
            return True
        # str.startswith/endswith take a tuple and loop in C.
        if self.prefixes and name.startswith(self.prefixes):
            return True
        if self.suffixes and name.endswith(self.suffixes):
            return True
        return any(part in name for part in self.contains)


class _PatternSet:
    """Patterns for every service plus patterns scoped to one service.name."""

    __slots__ = ("_by_service", "_global")

    def __init__(self, patterns: Iterable[str]) -> None:
        unscoped: list[str] = []
        scoped: dict[str, list[str]] = {}
        for raw in patterns:
            pattern = raw.strip()
            if not pattern:
                continue
            service, sep, rest = pattern.partition(":")
            if sep and service and rest and not any(c in service for c in "/* \t"):
                scoped.setdefault(service, []).append(rest)
            else:
                unscoped.append(pattern)
        self._global = _Patterns.of(unscoped)
        self._by_service = {service: _Patterns.of(items) for service, items in scoped.items()}

    def matches(self, name: str, service_name: str | None) -> bool:
        if self._global.matches(name):
            return True
        if service_name is None:
            return False
        scoped = self._by_service.get(service_name)
        return scoped is not None and scoped.matches(name)


class SpanFilter:
    """Decides whether a span is kept: allow list first, then the deny list, otherwise kept."""

    __slots__ = ("_allow", "_cache", "_deny", "_enabled")

    def __init__(self, deny: Iterable[str] = DEFAULT_DENY, allow: Iterable[str] = (),
                 enabled: bool = True) -> None:
        self._enabled = enabled
        self._allow = _PatternSet(allow)
        self._deny = _PatternSet(deny)
        self._cache: dict[tuple[str, str | None], bool] = {}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SpanFilter:
        """Build the filter from OBSERVATORY_SPAN_FILTER_* variables (`environ` defaults to os.environ)."""
        env = os.environ if environ is None else environ
        enabled = env.get(ENV_DISABLE, "").strip().lower() not in _TRUE
        deny = DEFAULT_DENY + _split(env.get(ENV_DENY, ""))
        return cls(deny=deny, allow=_split(env.get(ENV_ALLOW, "")), enabled=enabled)

    @property
    def enabled(self) -> bool:
        return self._enabled

    def allows(self, name: str, service_name: str | None) -> bool:
        """True when the span named `name` from service `service_name` is kept."""
        if not self._enabled:
            return True
        key = (name, service_name)
        decision = self._cache.get(key)
        if decision is None:
            decision = self._allow.matches(name, service_name) or not self._deny.matches(name, service_name)
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()  # crude but O(1) amortised; the hot names repopulate at once
            self._cache[key] = decision
        return decision


def _split(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())
