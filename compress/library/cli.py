"""`compress text PACKAGE [FILE|-]`: compress one text from a file or stdin with a package, a run dir or
a baseline; the compressed text goes to stdout (or the whole result as JSON with `--json`), the
figures to stderr."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from compress.console import console
from compress.errors import CompressError
from compress.library.load import load_compressor


def add_parser(subparsers: Any) -> None:
    """Register `text` with the `compress` command's subparsers."""
    p = subparsers.add_parser(
        "text",
        help="compress a text from a file or stdin",
        description=(__doc__ or "").replace("\n", " "),
    )
    p.add_argument("compressor", help="a package dir, a run dir, or a baseline (truncate, selfinfo, ...)")
    p.add_argument("file", nargs="?", default="-", help="the text's file; - or nothing: stdin")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--rate", type=float, default=None, help="share of the tokens to keep, in (0, 1]")
    budget.add_argument("--target-tokens", type=int, default=None, help="tokens to keep at most")
    p.add_argument("--query", default=None, help="the question the text will answer (query-aware kinds)")
    p.add_argument("--domain", default=None, help="code | memory | nl (default: routed by rules)")
    p.add_argument(
        "--force-token",
        action="append",
        default=[],
        metavar="TEXT",
        help="a string that must survive (repeatable; honoured by selfinfo and the classifier kind)",
    )
    p.add_argument("--json", action="store_true", help="print the whole result as JSON")
    p.add_argument("--engine", default="auto", help="auto | llama_cpp | transformers (generative kind)")
    p.add_argument("--device", default="cpu", help="torch device for the transformers engine")
    p.add_argument("--target-model", default=None, help="LiteLLM model whose tokenizer counts")
    p.set_defaults(func=run)


def read_text(file: str) -> str:
    """The text of `file` (`-`: stdin) as UTF-8, with a clear error for a missing file or other bytes."""
    name = "stdin" if file == "-" else file
    try:
        raw = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        raise CompressError(
            f"{name}: cannot read it ({exc.strerror}). Pass a readable file or - for stdin."
        ) from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CompressError(
            f"{name}: not UTF-8 (byte {exc.start}: {raw[exc.start : exc.start + 1]!r}). "
            "Convert it first, e.g. iconv -f latin1 -t utf-8."
        ) from exc


def run(args: argparse.Namespace) -> int:
    """Compress the text and print it; returns the exit status."""
    text = read_text(args.file)
    with load_compressor(
        args.compressor, engine=args.engine, device=args.device, target_model=args.target_model
    ) as c:
        r = c.compress(
            text,
            rate=args.rate,
            target_tokens=args.target_tokens,
            query=args.query,
            domain=args.domain,
            force_tokens=args.force_token,
        )
    if args.json:
        sys.stdout.write(r.model_dump_json() + "\n")
    else:
        sys.stdout.write(r.compressed + ("" if r.compressed.endswith("\n") else "\n"))
    saved = 1 - r.tokens_after / r.tokens_before if r.tokens_before else 0.0
    console.print(
        f"[bold]{r.status}[/] {c.name} ({c.kind}): {r.tokens_before} -> {r.tokens_after} tokens "
        f"({saved:.0%} fewer, by {r.tokenizer}), domain {r.domain}, {r.seconds:.2f}s",
        highlight=False,
    )
    return 0
