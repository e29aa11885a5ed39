"""The `observatory` command: serve the local stack, reprice stored calls."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _serve(args: argparse.Namespace) -> int:
    os.environ["OBSERVATORY_DATA_DIR"] = str(args.data_dir)
    import functions_framework
    from functions_framework import _http

    from emulator import local_server

    app = functions_framework.create_app(target="local_stack", source=local_server.__file__)  # type: ignore[no-untyped-call]
    print(f"observatory: serving on http://{args.host}:{args.port} (data in {args.data_dir})", flush=True)
    _http.create_server(app, debug=False).run(args.host, args.port)  # type: ignore[no-untyped-call]
    return 0


def _reprice(args: argparse.Namespace) -> int:
    os.environ["OBSERVATORY_DATA_DIR"] = str(args.data_dir)
    from core.config import get_settings
    from core.pricing import PriceTable
    from core.reprice import reprice
    from functions._bootstrap import build

    settings = get_settings()
    container = build(settings)
    try:
        counts = reprice(container.store, PriceTable.load(settings.price_overrides or None))
    finally:
        container.store.close()
    print(f"repriced {counts['llm_calls']} LLM calls and {counts['spans']} spans "
          f"({counts['unpriced']} unpriced)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="observatory", description="Observability backend for AI coding agents")
    sub = parser.add_subparsers(dest="command", required=True)
    data_dir = Path(os.environ.get("OBSERVATORY_DATA_DIR") or ".observatory")
    serve = sub.add_parser("serve", help="run every HTTP function in one local process")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8080))
    serve.add_argument("--data-dir", type=Path, default=data_dir)
    serve.set_defaults(func=_serve)
    rep = sub.add_parser("reprice", help="recompute computed costs of stored calls after a price change")
    rep.add_argument("--data-dir", type=Path, default=data_dir)
    rep.set_defaults(func=_reprice)
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
