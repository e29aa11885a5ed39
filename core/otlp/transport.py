"""Reads an OTLP/HTTP body: media type, size limit while reading, bounded gzip/deflate decompression."""

from __future__ import annotations

import zlib
from typing import Literal, Protocol

from core.errors import InvalidPayload, PayloadTooLarge, UnsupportedMediaType

Encoding = Literal["protobuf", "json"]

_MEDIA_TYPES: dict[str, Encoding] = {
    "application/x-protobuf": "protobuf",
    "application/protobuf": "protobuf",
    "application/json": "json",
}
_CHUNK = 64 * 1024


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


def media_encoding(content_type: str | None) -> Encoding:
    """The body encoding named by a Content-Type header; 415 for anything else."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    try:
        return _MEDIA_TYPES[media]
    except KeyError:
        raise UnsupportedMediaType(
            f"unsupported Content-Type {content_type!r}: use application/x-protobuf or application/json"
        ) from None


def read_body(stream: Readable, content_encoding: str | None, limit: int) -> bytes:
    """Read and decompress a body, never holding more than ``limit`` decompressed bytes.

    Works with and without Content-Length (chunked transfer from the OpenTelemetry JS exporters);
    the limit applies after decompression, so a zip bomb stops at ``limit`` + one chunk.
    """
    coding = (content_encoding or "identity").strip().lower()
    if coding in ("", "identity"):
        return _read_plain(stream, limit)
    if coding in ("gzip", "x-gzip"):
        return _read_compressed(stream, limit, zlib.decompressobj(16 + zlib.MAX_WBITS), coding)
    if coding == "deflate":
        # RFC 9110 deflate is zlib-wrapped, but some clients send raw deflate: auto-detect (wbits 32+).
        return _read_deflate(stream, limit)
    raise UnsupportedMediaType(f"unsupported Content-Encoding {content_encoding!r}: use gzip or deflate")


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"request body exceeds the limit of {limit} bytes after decompression")


def _read_plain(stream: Readable, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            return b"".join(parts)
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        parts.append(chunk)


def _read_compressed(stream: Readable, limit: int, dec: zlib._Decompress, coding: str) -> bytes:
    parts: list[bytes] = []
    size = 0
    try:
        while True:
            chunk = stream.read(_CHUNK)
            data = chunk
            while data:
                out = dec.decompress(data, limit - size + 1)
                size += len(out)
                if size > limit:
                    raise _too_large(limit)
                parts.append(out)
                data = dec.unconsumed_tail
                if dec.eof:
                    break
            if not chunk or dec.eof:
                break
        tail = dec.flush(limit - size + 1)
    except zlib.error as exc:
        raise InvalidPayload(f"body is not valid {coding} data: {exc}") from exc
    size += len(tail)
    if size > limit:
        raise _too_large(limit)
    if not dec.eof and size:
        raise InvalidPayload(f"{coding} body is truncated")
    parts.append(tail)
    return b"".join(parts)


def _read_deflate(stream: Readable, limit: int) -> bytes:
    first = stream.read(_CHUNK)
    # A zlib stream starts with a header whose 16-bit value is a multiple of 31.
    zlib_wrapped = len(first) >= 2 and (first[0] & 0x0F) == 8 and ((first[0] << 8) | first[1]) % 31 == 0
    dec = zlib.decompressobj(zlib.MAX_WBITS if zlib_wrapped else -zlib.MAX_WBITS)
    return _read_compressed(_Prefixed(first, stream), limit, dec, "deflate")


class _Prefixed:
    """A stream that yields already-read bytes first."""

    def __init__(self, head: bytes, rest: Readable) -> None:
        self._head: bytes | None = head
        self._rest = rest

    def read(self, n: int = -1) -> bytes:
        if self._head is not None:
            head, self._head = self._head, None
            if head:
                return head
        return self._rest.read(n)
