"""Extractive units of a text, no model: what a compressor keeps or drops whole.

- `split_units` / `select_units`: the self-information teacher's units (words with their trailing
  space, or lines) and choosing them at a rate;
- `sentence_spans`: a text's sentences (prose wrapped over lines stays one sentence; bullets, blank
  lines and indented lines split);
- `units_of`: the coarse units a unit-level compressor scores and keeps, by the shape of the text:
  sentences for prose, speaker turns (each cut into sentences, the speaker's tag kept with any of
  them) for chat and notes, statements for Python code (a function's or class's header kept with any
  of its body, so that what is kept still parses), lines for other code; each unit knows its
  document (a blank-line paragraph, a turn, a top-level definition, or one of several texts).
"""

from __future__ import annotations

import ast
import itertools
import re
from dataclasses import dataclass

from compress.algorithms.text.patterns import SESSION, TURN

_WORD_UNIT = re.compile(r"\S+\s*")
_LINE_UNIT = re.compile(r"[^\n]*\n|[^\n]+$")
# a sentence ends at . ! ? before white space; a line break ends one only where a new unit starts (a
# blank line, an indented, bulleted or doctest line, or after a line ending in a colon): prose wrapped
# over lines stays one sentence, code and notes split by line
_END = re.compile(r"[.!?](?=\s)")
_LINE_BREAK = re.compile(r"\n(?=\s*\n|[ \t]|[-*•>#]|\d+[.)]\s)|(?<=:)\n")
_PARAGRAPH = re.compile(r"\n[ \t]*\n")
# the shapes `units_of` knows
SHAPES = ("prose", "chat", "code")


def split_units(text: str, unit: str) -> list[tuple[int, int]]:
    """Character spans of the extractive units (words with their trailing space, or lines)."""
    pattern = _LINE_UNIT if unit == "line" else _WORD_UNIT
    return [m.span() for m in pattern.finditer(text) if m.end() > m.start()]


def select_units(
    spans: list[tuple[int, int]], scores: list[float], costs: list[int], rate: float
) -> list[int]:
    """Indices of the units to keep, in text order: every protected unit (score +inf), then the best
    scored until `rate` of the total cost is kept. Protected units may take the result past the rate."""
    budget = rate * sum(costs)
    kept = [i for i, s in enumerate(scores) if s == float("inf")]
    used = sum(costs[i] for i in kept)
    for i in sorted(range(len(spans)), key=lambda k: -scores[k]):
        if used >= budget:
            break
        if costs[i] == 0 or scores[i] == float("inf"):
            continue
        kept.append(i)
        used += costs[i]
    return sorted(kept)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the text's sentences (stripped of surrounding white space, empty ones dropped)."""
    cuts = sorted(
        {
            0,
            len(text),
            *(m.end() for m in _END.finditer(text)),
            *(m.start() for m in _LINE_BREAK.finditer(text)),
        }
    )
    spans = []
    for a, b in itertools.pairwise(cuts):
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            spans.append((a, b))
    return spans


@dataclass(frozen=True)
class Unit:
    """One unit: its character span, its document, whether it opens that document, and the unit (by
    index) that must be kept with it: a function's header for a statement of its body, a speaker's
    tag for a sentence of their turn (None: it stands alone)."""

    start: int
    end: int
    doc: int
    first: bool
    needs: int | None = None


def shape_of(domain: str | None, text: str) -> str:
    """The unit shape for a domain name: `code` -> code, `memory` -> chat when the text has speaker
    turns (else prose: notes split by line and sentence), anything else prose."""
    if domain == "code":
        return "code"
    if domain == "memory" and any(TURN.match(line) for line in text.splitlines()):
        return "chat"
    return "prose"


def units_of(text: str, shape: str = "prose") -> list[Unit]:
    """The text's units for `shape` (prose, chat or code), in text order, covering every non-space
    character of the text."""
    if shape not in SHAPES:
        raise ValueError(f"unit shape {shape!r}: choose one of {', '.join(SHAPES)}.")
    if shape == "code":
        return _code_units(text)
    if shape == "chat":
        return _chat_units(text)
    return _prose_units(text)


def _paragraph_of(text: str) -> list[int]:
    """The character offsets where each blank-line paragraph starts (the first is 0)."""
    return [0, *(m.end() for m in _PARAGRAPH.finditer(text))]


def _prose_units(text: str, offset: int = 0, doc0: int = 0) -> list[Unit]:
    starts = _paragraph_of(text)
    out: list[Unit] = []
    last_doc = -1
    for a, b in sentence_spans(text):
        doc = doc0 + int(_bisect_right(starts, a)) - 1
        out.append(Unit(offset + a, offset + b, doc, doc != last_doc))
        last_doc = doc
    return out


def _bisect_right(xs: list[int], x: int) -> int:
    lo, hi = 0, len(xs)
    while lo < hi:
        mid = (lo + hi) // 2
        if xs[mid] <= x:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _line_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each line without its newline."""
    out, pos = [], 0
    for line in text.split("\n"):
        out.append((pos, pos + len(line)))
        pos += len(line) + 1
    return out


def _chat_units(text: str) -> list[Unit]:
    """A turn runs from a speaker's tag to the next tag (or a session's header line, which is a
    document of its own); its speaker tag (`Ana:`) is a unit of its own that every sentence of the
    turn needs, so a kept sentence never loses who said it."""
    lines = _line_spans(text)
    headers = {i for i, (a, b) in enumerate(lines) if SESSION.match(text[a:b])}
    turn_starts = [i for i, (a, b) in enumerate(lines) if i not in headers and TURN.match(text[a:b])]
    if not turn_starts:
        return _prose_units(text)
    out: list[Unit] = []
    # a session's header line is a document of its own, never the tail of the turn before it
    bounds = sorted({0, *turn_starts, *headers, *(h + 1 for h in headers), len(lines)})
    for doc, (i, j) in enumerate(itertools.pairwise(bounds)):
        a, b = lines[i][0], lines[j - 1][1]
        body = text[a:b]
        m = TURN.match(body) if i in turn_starts else None
        tag_end = 0
        tag: int | None = None
        if m:
            tag_end = body.index(":", 0, m.end()) + 1
            tag = len(out)
            out.append(Unit(a, a + tag_end, doc, True))
        for k, u in enumerate(_prose_units(body[tag_end:], a + tag_end, doc)):
            out.append(Unit(u.start, u.end, doc, tag is None and k == 0, tag))
    return [u for u in out if text[u.start : u.end].strip()]


def _code_units(text: str) -> list[Unit]:
    """Python: each statement of a module, class or function body is a unit; a def's or class's
    header (decorators to the colon) is the unit its body's statements need; other compound
    statements (if, for, try, with) stay whole. Comment lines are units of their own. Text that does
    not parse: one unit per non-blank line."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        tree = None
    lines = _line_spans(text)
    if tree is None:
        return [
            Unit(a + len(text[a:b]) - len(text[a:b].lstrip(" \t")), b, i, True)
            for i, (a, b) in enumerate(lines)
            if text[a:b].strip()
        ]
    out: list[Unit] = []
    covered = [False] * len(lines)

    def span(first: int, last: int) -> tuple[int, int]:
        # 1-based inclusive line numbers -> characters, leading indentation kept out
        a, b = lines[first - 1][0], lines[last - 1][1]
        while a < b and text[a] in " \t":
            a += 1
        return a, b

    docs_seen: set[int] = set()

    def add(first: int, last: int, doc: int, needs: int | None) -> int:
        for k in range(first - 1, last):
            covered[k] = True
        a, b = span(first, last)
        out.append(Unit(a, b, doc, doc not in docs_seen, needs))
        docs_seen.add(doc)
        return len(out) - 1

    def visit(body: list[ast.stmt], doc: int | None, parent: int | None) -> None:
        for node in body:
            first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
            last = node.end_lineno or node.lineno
            here = doc if doc is not None else len(docs_seen)
            # a one-line def (`def f(): return 1`) has no header line of its own: it stays whole
            if (
                isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                and node.body
                and node.body[0].lineno > node.lineno
            ):
                last = node.body[0].lineno - 1
                # comments between the signature and the body are units of their own, not the header
                while last > node.lineno and text[slice(*lines[last - 1])].strip()[:1] in ("#", ""):
                    last -= 1
                header = add(first, last, here, parent)
                visit(node.body, here, header)
            else:
                add(first, last, here, parent)

    visit(tree.body, None, None)
    # comments and anything the tree does not cover: a unit per line, in the document of the next unit
    for i, (a, b) in enumerate(lines):
        if not covered[i] and text[a:b].strip():
            nxt = next((u for u in out if u.start > a), None)
            doc = nxt.doc if nxt is not None else (out[-1].doc if out else 0)
            while a < b and text[a] in " \t":
                a += 1
            out.append(Unit(a, b, doc, False))
    order = sorted(range(len(out)), key=lambda k: out[k].start)
    new_index = {old: new for new, old in enumerate(order)}
    renumbered: list[Unit] = []
    for k in order:
        u = out[k]
        renumbered.append(
            Unit(u.start, u.end, u.doc, u.first, None if u.needs is None else new_index[u.needs])
        )
    return renumbered


def join_documents(documents: list[str], separator: str = "\n\n") -> tuple[str, list[tuple[int, int]]]:
    """Several texts as one (joined by `separator`) and each one's character span in it."""
    spans, pos = [], 0
    for i, d in enumerate(documents):
        if i:
            pos += len(separator)
        spans.append((pos, pos + len(d)))
        pos += len(d)
    return separator.join(documents), spans
