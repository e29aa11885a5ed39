"""Forwarding a request of an analytics function to the one local process that holds embedded ClickHouse."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import flask

from core.errors import StorageUnavailable

# Hop-by-hop headers (RFC 9110 §7.6.1) and the ones the forwarded body/answer recompute.
_SKIP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
         "transfer-encoding", "upgrade", "host", "content-length"}


def forward(request: flask.Request, base_url: str, timeout_s: float = 60.0) -> flask.Response:
    """Send `request` as is to `base_url` and answer with its response; StorageUnavailable (503 + Retry-After)
    while the analytics process is not listening yet or has gone."""
    target = urlsplit(base_url)
    body = request.get_data()  # the analytics routes take JSON bodies under the API's body limit
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _SKIP}
    path = request.full_path if request.query_string else request.path
    conn = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port or 80, timeout=timeout_s)
    try:
        conn.request(request.method, path, body=body or None, headers=headers)
        answer = conn.getresponse()
        data = answer.read()
    except OSError as exc:
        raise StorageUnavailable(f"the analytics process is not reachable: {exc}") from exc
    finally:
        conn.close()
    response = flask.Response(data, status=answer.status)
    for name, value in answer.getheaders():
        if name.lower() not in _SKIP:
            response.headers.add(name, value)
    return response
