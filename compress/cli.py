"""`compress`: the console script for using a compressor (experiments stay on `python -m compress.run`).

    compress text PACKAGE [FILE|-] --rate 0.5 [--target-tokens N] [--query Q] [--domain D] [--json]

Each subcommand is a module with `add_parser(subparsers)` that registers it and sets `func` (called
with the parsed arguments, returning the exit status); a new one is one line in `SUBCOMMANDS`.
"""

from __future__ import annotations

import argparse
import sys
from types import ModuleType

from compress import __version__
from compress.infra.errors import CompressError
from compress.library import command as text_command
from compress.serve import command as serve_command

# the subcommands, in the order `compress --help` lists them
SUBCOMMANDS: list[ModuleType] = [text_command, serve_command]


def build_parser() -> argparse.ArgumentParser:
    """The `compress` command with every subcommand registered."""
    parser = argparse.ArgumentParser(prog="compress", description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--version", action="version", version=f"compress {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the `compress` command; returns the exit status (2 for a problem the user can fix)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CompressError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
