"""Reading user files line by line: UTF-8 with the place of a bad byte, JSON objects with the line of a bad one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from compress.infra.errors import CompressError


def utf8_lines(path: Path, setting: str) -> Iterator[tuple[int, str]]:
    """The file's lines, numbered from 1, decoded as UTF-8; a bad byte is an error naming where it is
    (`setting`: the config key that named the file)."""
    offset = 0
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                yield lineno, raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise CompressError(
                    f"{setting}={path}: line {lineno} is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at byte "
                    f"offset {offset + exc.start} of the file, column {exc.start + 1} of the line). Save the file "
                    "as UTF-8, e.g. `iconv -f latin1 -t utf-8 IN > OUT` for a Latin-1 file."
                ) from exc
            offset += len(raw)


def json_objects(path: Path, setting: str, example: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """The file's JSON objects, one per non-blank line, with their line numbers; a line that is not one
    is an error naming the file, the line and what a line must be (`example`)."""
    for lineno, line in utf8_lines(path, setting):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CompressError(
                f"{setting}={path}: line {lineno} is not valid JSON ({exc.msg} at column {exc.colno}). "
                f"Fix that line: each line must be one JSON object such as {example}."
            ) from exc
        if not isinstance(row, dict):
            raise CompressError(
                f"{setting}={path}: line {lineno} is a JSON {type(row).__name__}, not an object such as {example}."
            )
        yield lineno, row
