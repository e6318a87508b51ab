"""Lossless compaction of logs and listings, line by line, and its exact inverse.

Logs: a run of identical consecutive lines is written once with its count, `<line>  [×12]`.
Listings: consecutive paths in one directory are written as `dir/: a.py b.py c.py`, and consecutive
`grep -n` hits in one file keep the first hit whole and write the rest as `  <line>:<text>`:

    compress/library/load.py:12:def load(
      40:    return x

A line of the original that would read as one of these forms (or starts with the escape `\\`) is
written with a `\\` in front, so `restore_*(compact_*(text)) == text` for every text, byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from compress.algorithms.structured.shapes import GREP, PATH

RUN = re.compile(r"(.*)  \[×(\d+)\]", re.DOTALL)
ESCAPE = "\\"
DIR_GROUP = re.compile(r"(\S*/): (\S+(?: \S+)*)")
HIT_MORE = re.compile(r"  (\d+[:-].*)", re.DOTALL)


def compact_log(text: str) -> str:
    """Runs of identical consecutive lines written once, `<line>  [×N]`."""
    out: list[str] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        j = i + 1
        while j < len(lines) and lines[j] == lines[i]:
            j += 1
        if j - i > 1:
            out.append(f"{lines[i]}  [×{j - i}]")
        else:  # a line that itself ends like a run says so: one copy of it
            out.append(f"{lines[i]}  [×1]" if RUN.fullmatch(lines[i]) else lines[i])
        i = j
    return "\n".join(out)


def restore_log(text: str) -> str:
    """The log `compact_log` was given."""
    out: list[str] = []
    for line in text.split("\n"):
        m = RUN.fullmatch(line)
        out.extend([m.group(1)] * int(m.group(2)) if m else [line])
    return "\n".join(out)


def path_parts(line: str) -> tuple[str, str] | None:
    """(dir ending in `/`, name) of a line that is a path in a directory, else None."""
    m = PATH.match(line)
    return (m.group("dir"), m.group("name")) if m else None


def grep_hit(line: str) -> tuple[str, str] | None:
    """(file, `<line>:<text>`) of a `grep -n` hit whose file looks like a path, else None."""
    m = GREP.match(line)
    if m is None or not re.search(r"[/.]", m.group("file")):
        return None
    return m.group("file"), line[len(m.group("file")) + 1 :]


def _groups(lines: list[str]) -> Iterator[tuple[str, int, int]]:
    """Runs of lines as (kind, start, end): `dir` (one directory's paths), `hits` (one file's grep
    hits), `line` (anything else, one line)."""
    i = 0
    while i < len(lines):
        kind, key = "line", None
        if (p := path_parts(lines[i])) is not None:
            kind, key = "dir", p[0]
        elif (h := grep_hit(lines[i])) is not None:
            kind, key = "hits", h[0]
        j = i + 1
        if kind == "dir":
            while j < len(lines) and (q := path_parts(lines[j])) is not None and q[0] == key:
                j += 1
        elif kind == "hits":
            while j < len(lines) and (g := grep_hit(lines[j])) is not None and g[0] == key:
                j += 1
        yield (kind if j - i > 1 else "line"), i, j
        i = j


def _literal(line: str) -> str:
    special = line.startswith(ESCAPE) or DIR_GROUP.fullmatch(line) or HIT_MORE.fullmatch(line)
    return ESCAPE + line if special else line


def compact_listing(text: str) -> str:
    """Paths grouped by directory and grep hits by file (runs of consecutive lines)."""
    lines = text.split("\n")
    out: list[str] = []
    for kind, i, j in _groups(lines):
        if kind == "dir":
            parts = [path_parts(line) for line in lines[i:j]]
            out.append(f"{parts[0][0]}: " + " ".join(p[1] for p in parts if p))  # type: ignore[index]
        elif kind == "hits":
            out.append(_literal(lines[i]))
            out.extend("  " + h[1] for line in lines[i + 1 : j] if (h := grep_hit(line)))
        else:
            out.append(_literal(lines[i]))
    return "\n".join(out)


def restore_listing(text: str) -> str:
    """The listing `compact_listing` was given."""
    out: list[str] = []
    file: str | None = None  # the file of the grep hit just restored: a `  N:text` line is its next hit
    for line in text.split("\n"):
        if line.startswith(ESCAPE):
            out.append(line[1:])
            hit = grep_hit(out[-1])
            file = hit[0] if hit else None
        elif file is not None and (m := HIT_MORE.fullmatch(line)):
            out.append(f"{file}:{m.group(1)}")
        elif m := DIR_GROUP.fullmatch(line):
            out.extend(m.group(1) + name for name in m.group(2).split(" "))
            file = None
        else:
            out.append(line)
            hit = grep_hit(line)
            file = hit[0] if hit else None
    return "\n".join(out)
