"""The emulated cloud's one front door: forwards each request to the function process owning its path."""

from __future__ import annotations

import http.client
import json
import logging
import threading
import urllib.parse
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from core.errors import CoreError
from core.routes import match, resolve

log = logging.getLogger(__name__)

# Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and are never forwarded.
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                         "transfer-encoding", "upgrade", "proxy-connection"})
_CHUNK = 64 * 1024
UPSTREAM_TIMEOUT_S = 120.0  # above the event stream's 60 s bound


class RoutingError(Exception):
    """A request the router answers itself (`{"error": ...}` with this status)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def owner(method: str, path: str) -> str:
    """The function serving ``method path``, chosen exactly as the local stack's dispatcher chooses it: a CORS
    preflight and the OTLP paths go to the path's first owner (OTLP answers its own 405), everything else by
    method. CoreError (404 / 405) when the route table has no such route."""
    candidates = match(path)
    if method == "OPTIONS" and candidates:
        return candidates[0][0].function
    if candidates and candidates[0][0].operation == "ingest":
        return candidates[0][0].function
    route, _ = resolve(method, path)
    return route.function


class Router:
    """A threaded HTTP server on one port; `upstreams` maps each function name to its process's base URL."""

    def __init__(self, upstreams: Mapping[str, str], host: str = "127.0.0.1", port: int = 0) -> None:
        self.upstreams = dict(upstreams)
        self._server = ThreadingHTTPServer((host, port), _handler_class(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def target(self, method: str, raw_path: str) -> tuple[str, int]:
        """(host, port) of the process that serves this request; RoutingError when none does."""
        path = urllib.parse.unquote(urllib.parse.urlsplit(raw_path).path) or "/"
        try:
            function = owner(method, path)
        except CoreError as exc:
            raise RoutingError(exc.status, exc.message) from exc
        base = self.upstreams.get(function)
        if base is None:
            raise RoutingError(503, f"function {function} is not running in this stack")
        parts = urllib.parse.urlsplit(base)
        return parts.hostname or "127.0.0.1", int(parts.port or 80)

    def start(self) -> Router:
        """Serve on a daemon thread of this process."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="router", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()


def _handler_class(router: Router) -> type[BaseHTTPRequestHandler]:
    class Handler(_Forwarder):
        pass

    Handler.router = router
    return Handler


class _Forwarder(BaseHTTPRequestHandler):
    router: Router
    protocol_version = "HTTP/1.1"  # keep-alive with exporters (their sessions reuse one connection)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._forward()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_GET  # noqa: N815

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's signature
        log.debug("router: " + format, *args)

    def _forward(self) -> None:
        body = self._read_body()
        try:
            host, port = self.router.target(self.command, self.path)
        except RoutingError as exc:
            self._answer_error(exc.status, exc.message)
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        if body or self.command in ("POST", "PUT", "PATCH"):
            headers["Content-Length"] = str(len(body))
        headers["X-Forwarded-For"] = self.client_address[0]
        upstream = http.client.HTTPConnection(host, port, timeout=UPSTREAM_TIMEOUT_S)
        try:
            try:
                upstream.request(self.command, self.path, body=body or None, headers=headers)
                response = upstream.getresponse()
            except OSError as exc:
                self._answer_error(502, f"function at {host}:{port} unavailable: {exc}")
                return
            self._relay(response)
        finally:
            upstream.close()

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _relay(self, response: http.client.HTTPResponse) -> None:
        self.send_response_only(response.status, response.reason)
        length = response.getheader("Content-Length")
        for key, value in response.getheaders():
            if key.lower() not in _HOP_BY_HOP:
                self.send_header(key, value)
        no_body = self.command == "HEAD" or response.status in (204, 304) or 100 <= response.status < 200
        if length is not None or no_body:
            self.end_headers()
            if not no_body:
                self.wfile.write(response.read())
            return
        # No length (an event stream): pass each piece on as it arrives, chunked.
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        while True:
            piece = response.read1(_CHUNK)
            if not piece:
                break
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def _answer_error(self, status: int, message: str) -> None:
        payload = json.dumps({"error": message}).encode()
        self.send_response_only(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
