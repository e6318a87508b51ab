"""`compress text PACKAGE [FILE|-]...`: compress a text from a file or stdin with a package, a run dir or
a baseline; the compressed text goes to stdout (or the whole result as JSON with `--json`), the
figures to stderr. Several files are compressed each on its own, or with `--joint` as one context with
one budget (their texts on stdout separated by blank lines; with `--json` one result per line). A text
is routed by its shape (a tool output's: json, log, listing; else code, memory, nl) unless `--domain`
names one; the figures say the routed domain and the ids of the markers `[… N lines like "..." · id ID]`
that stand for runs of like lines (the dropped lines are the input file's own: the command keeps no
cache past its exit, so `/v1/expand` of a server is where ids are expanded)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from compress.infra.console import console
from compress.infra.errors import CompressError
from compress.library.load import load_compressor


def add_parser(subparsers: Any) -> None:
    """Register `text` with the `compress` command's subparsers."""
    p = subparsers.add_parser(
        "text",
        help="compress a text from a file or stdin",
        description=(__doc__ or "").replace("\n", " "),
    )
    p.add_argument("compressor", help="a package dir, a run dir, or a baseline (truncate, selfinfo, ...)")
    p.add_argument("files", nargs="*", default=["-"], help="the texts' files; - or nothing: stdin")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--rate", type=float, default=None, help="share of the tokens to keep, in (0, 1]")
    budget.add_argument("--target-tokens", type=int, default=None, help="tokens to keep at most")
    budget.add_argument(
        "--threshold", type=float, default=None, help="keep the units scoring at least this (selector kind)"
    )
    p.add_argument(
        "--joint",
        action="store_true",
        help="several files as one context with one budget (selector kind, bm25): units compete for the query",
    )
    p.add_argument("--query", default=None, help="the question the text will answer (query-aware kinds)")
    p.add_argument(
        "--domain",
        default=None,
        help="nl | code | memory | json | log | listing (default: routed by the text's shape and rules)",
    )
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
    """Compress the texts and print them; returns the exit status."""
    texts = [read_text(f) for f in args.files or ["-"]]
    with load_compressor(
        args.compressor, engine=args.engine, device=args.device, target_model=args.target_model
    ) as c:
        results = c.compress_many(
            texts,
            rate=args.rate,
            target_tokens=args.target_tokens,
            query=args.query,
            domain=args.domain,
            force_tokens=args.force_token,
            threshold=args.threshold,
            joint=args.joint,
        )
    if args.json:
        sys.stdout.write("".join(r.model_dump_json() + "\n" for r in results))
    else:
        out = "\n\n".join(r.compressed.rstrip("\n") for r in results if r.status != "dropped")
        sys.stdout.write(out + "\n")
    for name, r in zip(args.files or ["-"], results, strict=True):
        saved = 1 - r.tokens_after / r.tokens_before if r.tokens_before else 0.0
        where = f"{name}: " if len(results) > 1 else ""
        ids = r.ids
        markers = f", {len(ids)} marker{'s' if len(ids) != 1 else ''} (ids {', '.join(ids)})" if ids else ""
        console.print(
            f"{where}[bold]{r.status}[/] {c.name} ({c.kind}): {r.tokens_before} -> {r.tokens_after} tokens "
            f"({saved:.0%} fewer, by {r.tokenizer}), domain {r.domain}{markers}, {r.seconds:.2f}s",
            highlight=False,
            soft_wrap=True,
        )
    return 0
