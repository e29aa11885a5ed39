"""OTLP AnyValue/KeyValue flattening and lenient scalar coercion (numbers often arrive as strings)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

# Stores keep integers (token counts, nanosecond times) in signed 64 bits.
MAX_INT64 = 2**63 - 1
# Times from 2100 on are refused: the analytics history partitions and expires rows by a 32-bit second count
# (ClickHouse DateTime, which ends in 2106, retention included), so it could not keep what the Store keeps.
TIME_LIMIT_NS = 4_102_444_800 * 10**9  # 2100-01-01T00:00:00Z


def valid_ns(time_ns: int) -> bool:
    """A time every store can hold: after the epoch, before 2100."""
    return 0 < time_ns < TIME_LIMIT_NS


def any_value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind == "string_value":
        return v.string_value
    if kind == "int_value":
        return v.int_value
    if kind == "double_value":
        return v.double_value
    if kind == "bool_value":
        return v.bool_value
    if kind == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in v.kvlist_value.values}
    if kind == "bytes_value":
        return v.bytes_value.hex()
    return None


def attrs_dict(kvs: Iterable[KeyValue]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in kvs:
        v = kv.value
        # This runs ~20 times per span. Most attributes are non-empty strings (Claude Code sends even its numbers
        # as strings): one read settles those; an empty one (unset, or set to "") asks which kind it holds.
        text = v.string_value
        if text:
            out[kv.key] = text
            continue
        kind = v.WhichOneof("value")
        if kind == "int_value":
            out[kv.key] = v.int_value
        elif kind == "string_value":
            out[kv.key] = text
        else:
            out[kv.key] = any_value(v)
    return out


def to_int(value: Any) -> int | None:
    """An integer within signed 64 bits, else None (a count past it is garbage, and no store could hold it)."""
    if value is None or isinstance(value, bool):
        return None
    if not isinstance(value, int):
        try:
            value = int(float(value))
        except (TypeError, ValueError, OverflowError):  # OverflowError: "inf"
            return None
    return value if -MAX_INT64 - 1 <= value <= MAX_INT64 else None


def to_float(value: Any) -> float | None:
    """A finite float, else None (NaN or infinity would poison every sum it joins)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int past a double's range
        return None
    return number if math.isfinite(number) else None


# The largest count one record may report (2^40, about 1.1e12 tokens, lines or seconds): no call or metric interval
# comes near it, and sums of up to 2^23 such records stay exact in the 64-bit integers every store sums in (SQLite
# raises on an overflowing SUM; ClickHouse wraps). A larger value is garbage and reads as absent.
MAX_COUNT = 2**40


def to_count(value: Any) -> int | None:
    """A token count: an integer from 0 up to MAX_COUNT, else None (a negative count would lower every sum it
    joins; a huge one would overflow them)."""
    number = to_int(value)
    return number if number is not None and 0 <= number <= MAX_COUNT else None


def to_amount(value: Any) -> float | None:
    """A cost or a duration: a finite float from 0, else None."""
    number = to_float(value)
    return number if number is not None and number >= 0 else None


def to_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
    if isinstance(value, (int, float)):
        return bool(value)
    return None


def to_str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def first(attrs: Mapping[str, Any], keys: Iterable[str]) -> Any:
    """The value of the first key present (and not empty) — the seed's attribute-fallback rule."""
    for key in keys:
        value = attrs.get(key)
        if value is not None and value != "":
            return value
    return None
