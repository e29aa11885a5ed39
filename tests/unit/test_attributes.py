"""OTLP attribute flattening: every AnyValue kind, including the empty and unset ones the fast path skips."""

from __future__ import annotations

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList

from core.normalise.attributes import attrs_dict


def test_every_kind_of_value_flattens() -> None:
    kvs = [
        KeyValue(key="text", value=AnyValue(string_value="claude-sonnet-4-5")),
        KeyValue(key="empty", value=AnyValue(string_value="")),
        KeyValue(key="unset", value=AnyValue()),
        KeyValue(key="zero", value=AnyValue(int_value=0)),
        KeyValue(key="count", value=AnyValue(int_value=1234)),
        KeyValue(key="ratio", value=AnyValue(double_value=0.5)),
        KeyValue(key="flag", value=AnyValue(bool_value=False)),
        KeyValue(key="raw", value=AnyValue(bytes_value=b"\x01\xff")),
        KeyValue(key="list", value=AnyValue(array_value=ArrayValue(values=[
            AnyValue(string_value="a"), AnyValue(int_value=2)]))),
        KeyValue(key="map", value=AnyValue(kvlist_value=KeyValueList(values=[
            KeyValue(key="k", value=AnyValue(string_value=""))]))),
    ]
    assert attrs_dict(kvs) == {
        "text": "claude-sonnet-4-5", "empty": "", "unset": None, "zero": 0, "count": 1234, "ratio": 0.5,
        "flag": False, "raw": "01ff", "list": ["a", 2], "map": {"k": ""},
    }


def test_a_later_value_of_a_key_wins() -> None:
    kvs = [KeyValue(key="k", value=AnyValue(string_value="first")), KeyValue(key="k", value=AnyValue(int_value=7))]
    assert attrs_dict(kvs) == {"k": 7}
