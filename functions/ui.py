"""Entry point `ui`: the web dashboard's static files (the page at `/`, its assets under `/ui/`), no API key."""

from __future__ import annotations

import functools
from pathlib import Path

import flask

from core.errors import CoreError, MethodNotAllowed, NotFound
from functions._http import error_response

STATIC_DIR = Path(__file__).resolve().parent / "ui_static"

# Only these files are served: a name is looked up here, never joined to a path, so no traversal is possible.
ASSETS: dict[str, str] = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
PAGE = "index.html"
ASSET_PREFIX = "/ui/"

# The page loads nothing from elsewhere; the API is called on the page's own origin (or one the user names).
_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "connect-src *; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
}


@functools.cache
def _read(name: str) -> bytes:
    return (STATIC_DIR / name).read_bytes()


def asset_name(path: str) -> str:
    """The asset a request path names; NotFound for any path that is not exactly a known asset."""
    if path in ("", "/"):
        return PAGE
    if path.startswith(ASSET_PREFIX):
        name = path[len(ASSET_PREFIX):]
        if name in ASSETS:
            return name
    raise NotFound(f"no such dashboard asset: {path}")


def ui(request: flask.Request) -> flask.Response:
    try:
        if request.method not in ("GET", "HEAD"):
            raise MethodNotAllowed(f"method {request.method} not allowed on {request.path} (allowed: GET)")
        name = asset_name(request.path)
    except CoreError as exc:
        return error_response(exc)
    body = _read(name)
    response = flask.Response(b"" if request.method == "HEAD" else body, status=200,
                              content_type=ASSETS[name], headers=_HEADERS)
    response.content_length = len(body)
    return response
