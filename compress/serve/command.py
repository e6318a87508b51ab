"""`compress serve PACKAGE` (also `python -m compress.serve PACKAGE`): the HTTP service and proxy.

    compress serve PACKAGE [--host 127.0.0.1] [--port 8080] [--engine auto|llama_cpp|transformers]
        [--worker process|thread] [--max-body-bytes N] [--max-texts N] [--config proxy.yaml]

PACKAGE is what `load_compressor` takes: a run dir, a package dir or a baseline name (`truncate`).
The port answers at once; the compressor loads behind it. SIGTERM (or Ctrl-C) stops taking new
connections, lets the requests in flight finish (up to --graceful-timeout seconds), then exits 0.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from compress.infra.errors import CompressError
from compress.infra.secrets import load_env, scrub
from compress.serve.app import create_app
from compress.serve.config import API_KEY_ENV, ServeSettings, load_config


class ScrubbingFormatter(logging.Formatter):
    """A log line with every secret value (provider keys, the API key) replaced, tracebacks included."""

    def format(self, record: logging.LogRecord) -> str:
        """The formatted line, scrubbed."""
        return str(scrub(super().format(record)))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `serve` options."""
    parser.add_argument(
        "package", help="a run dir, a package dir or a baseline name (truncate, selfinfo, ...)"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--engine", default="auto", choices=["auto", "llama_cpp", "transformers"])
    parser.add_argument("--device", default="cpu", help="torch device for the transformers engine")
    parser.add_argument("--cache-dir", type=Path, default=None, help="model cache (default $COMPRESS_CACHE)")
    parser.add_argument(
        "--worker",
        default="process",
        choices=["process", "thread"],
        help="where the compressor runs: a worker process (default; never blocks the server) or a thread",
    )
    parser.add_argument(
        "--keep-alive-s",
        type=int,
        default=75,
        help="how long an idle client connection stays open: longer than clients keep theirs (httpx: 5 s), "
        "so the server never closes one a client is reusing (a reset request)",
    )
    parser.add_argument("--max-body-bytes", type=int, default=4 * 1024 * 1024, help="largest request body")
    parser.add_argument("--max-texts", type=int, default=256, help="most texts in one /v1/compress batch")
    parser.add_argument(
        "--max-pending", type=int, default=1024, help="batches waiting for the compressor before 503 busy"
    )
    parser.add_argument(
        "--config", type=Path, default=None, help="proxy config YAML (see compress/serve/config.py)"
    )
    parser.add_argument(
        "--graceful-timeout", type=float, default=30.0, help="seconds in-flight requests get on SIGTERM"
    )
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--no-access-log", action="store_true", help="no line per request")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `compress serve` on the `compress` command's subparsers."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve", help="serve a compressor over HTTP (and an OpenAI-compatible proxy)", description=__doc__
    )
    add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def settings_from(args: argparse.Namespace) -> ServeSettings:
    """The server's settings from the parsed arguments; CompressError for a spec or config at fault."""
    spec = str(args.package)
    # a baseline's name is checked where the compressor loads (the server never imports the library)
    if ("/" in spec or spec.startswith(".")) and not Path(spec).expanduser().is_dir():
        raise CompressError(
            f"{spec!r}: no such directory; pass a run dir, a package dir "
            "(python -m compress.export RUN --package DIR) or a baseline name (truncate, selfinfo, ...)."
        )
    for name in ("port", "max_body_bytes", "max_texts", "max_pending"):
        value = getattr(args, name)
        if value < (0 if name == "port" else 1):
            raise CompressError(f"--{name.replace('_', '-')} {value}: must be a positive number.")
    return ServeSettings(
        spec=spec,
        engine=args.engine,
        device=args.device,
        cache_dir=args.cache_dir,
        worker=args.worker,
        max_body_bytes=args.max_body_bytes,
        max_texts=args.max_texts,
        max_pending=args.max_pending,
        api_key=os.environ.get(API_KEY_ENV) or None,
        config=load_config(args.config),
    )


def _logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ScrubbingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM / Ctrl-C; 0 after a graceful stop."""
    import uvicorn  # heavy and only needed here: `compress text` stays fast to start

    load_env()
    settings = settings_from(args)
    _logging(args.log_level)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_config=None,
        log_level=args.log_level,
        access_log=not args.no_access_log,
        timeout_graceful_shutdown=args.graceful_timeout,
        timeout_keep_alive=args.keep_alive_s,
        lifespan="on",
    )
    # uvicorn catches SIGTERM/SIGINT, shuts down gracefully, then raises the signal again under the
    # handler it found: without one of ours the process would die by that signal instead of exiting 0
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    server = uvicorn.Server(config)
    app.state.host.on_fatal = lambda: setattr(server, "should_exit", True)
    server.run()
    if app.state.host.fatal:
        print(f"error: {app.state.host.error}", file=sys.stderr)
        return 2
    return 0 if server.started else 1


def main(argv: list[str] | None = None) -> int:
    """`python -m compress.serve ...`; the exit status (2 for a problem the user can fix)."""
    parser = argparse.ArgumentParser(prog="compress serve", description=(__doc__ or "").split("\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except CompressError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
