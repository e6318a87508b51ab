"""A tool output to a token budget: lossless compaction first, lossy selection only beyond it.

`pack` writes the text in its shape's compact form (`compact`) and returns that when it fits the
budget (or when there is none). Otherwise it keeps the most worth keeping lines (logs, listings) or
items (JSON) within the budget, exactly: the count of the result by the caller's `count`, markers
included, is at most `budget`. Every run of left-out lines or items leaves one marker with an id,
under which the store keeps the exact text that went. Units are taken in rank order, one that would
not fit skipped for the next (a long string's tail does not block the rows after it), by their
length in characters; the length allowed is fitted to the budget by a few renderings and exact counts
(`_fit`). When nothing fits beside markers that say what went, the markers get terse (`[… 150 lines ·
id …]`); when not even that fits, a JSON document becomes one marker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from compress.algorithms.structured.jsontree import JsonDoc, compact_json, dumps, restore_value
from compress.algorithms.structured.linepack import LineDoc
from compress.algorithms.structured.lines import compact_listing, compact_log, restore_listing, restore_log
from compress.algorithms.structured.shapes import TOOL_SHAPES, parse_json
from compress.algorithms.structured.store import ExpandStore, text_id

Mark = Callable[[str], str]  # a marker's id for the text it stands for
ATTEMPTS = 8  # renderings and counts to fit the budget, then as many to fit it with the real ids
MARKER_CHARS = {False: 56.0, True: 28.0}  # about the length of a marker, and of a terse one


@dataclass
class Packed:
    """A tool output packed to a budget: its text, shape, whether nothing was left out, and the ids of
    the markers in the text (each a key of the store)."""

    text: str
    shape: str
    lossless: bool
    ids: list[str] = field(default_factory=list)


def _check(shape: str) -> None:
    if shape not in TOOL_SHAPES:
        raise ValueError(f"shape {shape!r} is not a tool output's; choose from {TOOL_SHAPES}")


def compact(text: str, shape: str) -> str:
    """The lossless compact form of a tool output (ValueError for a JSON shape that does not parse)."""
    _check(shape)
    if shape == "json":
        parsed = parse_json(text)
        if parsed is None:
            raise ValueError("the text is not JSON (an object or an array) nor JSON Lines")
        return compact_json(*parsed)
    return compact_log(text) if shape == "log" else compact_listing(text)


def restore(compact_text: str, shape: str) -> str:
    """The text `compact` was given: exactly for a log or a listing; for JSON, minified JSON (JSON Lines:
    one object a line) of data equal to the original's."""
    _check(shape)
    if shape == "json":
        data, lines = restore_value(compact_text)
        return "\n".join(dumps(v) for v in data) if lines else dumps(data)
    return restore_log(compact_text) if shape == "log" else restore_listing(compact_text)


def pack(
    text: str,
    shape: str,
    budget: int | None,
    count: Callable[[str], int],
    query: str | None = None,
    store: ExpandStore | None = None,
) -> Packed | None:
    """The text in at most `budget` tokens by `count` (None: lossless compaction only), the lines or
    items the query names kept first after the errors; None when the text is not of that shape (JSON
    that does not parse, a log or listing of fewer than 2 lines): compress it as text instead."""
    _check(shape)
    parsed = parse_json(text) if shape == "json" else None
    if shape == "json":
        if parsed is None:
            return None
        lossless = compact_json(*parsed)
    else:
        if sum(1 for line in text.split("\n") if line.strip()) < 2:
            return None
        lossless = compact(text, shape)
    if budget is None or count(lossless) <= budget:
        return Packed(lossless, shape, True, [])

    choose: Callable[[float, float, bool], set[int]]
    render: Callable[[set[int] | None, Mark | None, bool], str]
    rank: dict[int, int]  # kept line or item -> the rank of its unit (0: the most worth keeping)
    if parsed is not None:
        doc = JsonDoc(*parsed)
        order = doc.order(query)
        render, rank = doc.render, {item: r for r, item in enumerate(order)}

        def choose(limit: float, marker_chars: float, terse: bool) -> set[int]:
            return doc.choose(order, limit, marker_chars, terse)
    else:
        lines = LineDoc(text, shape, query)
        choose, render = lines.choose, lines.render
        rank = {i: r for r, unit in enumerate(lines.units) for i in unit}

    chars_per_token = len(lossless) / max(1, count(lossless))
    best: tuple[Packed, list[int]] | None = None
    for terse in (False, True):
        got = _fit(choose, render, budget, count, chars_per_token, terse, shape, store, rank)
        # the better result keeps the better-ranked units (an error before any number of others)
        if got is not None and (best is None or got[1] < best[1]):
            best = got
        if best is not None and best[1][:1] == [0]:  # the best unit kept, beside markers that say what went
            break
    if best is not None:
        return best[0]
    if parsed is not None:  # not even the frame of the document fits: one marker for all of it
        ids: list[str] = []
        whole = doc.whole(_marker_ids(store, ids))
        if count(whole) <= budget:
            return Packed(whole, shape, False, ids)
    return Packed("", shape, False, [])  # not even a marker fits


def _marker_ids(store: ExpandStore | None, ids: list[str]) -> Mark:
    """A marker's id for the text it stands for (stored when there is a store), noted in `ids`."""

    def mark(stored: str) -> str:
        key = store.put(stored) if store is not None else text_id(stored)
        ids.append(key)
        return key

    return mark


def _fit(
    choose: Callable[[float, float, bool], set[int]],
    render: Callable[[set[int] | None, Mark | None, bool], str],
    budget: int,
    count: Callable[[str], int],
    chars_per_token: float,
    terse: bool,
    shape: str,
    store: ExpandStore | None,
    rank: dict[int, int],
) -> tuple[Packed, list[int]] | None:
    """The most that fits the budget, and the ranks of the units it keeps, best first (None: not even
    the markers fit).

    `choose` keeps units within a length in characters; the length starts at the budget times the
    text's characters per token and is scaled by how far each rendering's exact count is from the
    budget (probes with ids by position); then the result is rendered with its real ids, counted
    again, and shrunk if those ids came out longer in tokens."""
    marker = MARKER_CHARS[terse]
    limit = budget * chars_per_token
    best: tuple[int, float] | None = None  # (tokens, limit) of the fullest probe within the budget
    over: float | None = None  # the smallest limit found over the budget
    for _ in range(ATTEMPTS):
        tokens = count(render(choose(limit, marker, terse), None, terse))
        if tokens <= budget and (best is None or tokens > best[0]):
            best = (tokens, limit)
        if tokens > budget and (over is None or limit < over):
            over = limit
        if 0.97 * budget <= tokens <= budget:
            break
        if best is not None and over is not None:  # bracketed: halve the gap (the count jumps)
            limit = (best[1] + over) / 2
        else:
            limit *= budget / max(1, tokens) * (1.0 if tokens <= budget else 0.97)
    if best is None:
        return None
    limit = best[1]
    for _ in range(ATTEMPTS):
        kept = choose(limit, marker, terse)
        ids: list[str] = []
        text = render(kept, _marker_ids(store, ids), terse)
        tokens = count(text)
        if tokens <= budget:
            return Packed(text, shape, False, ids), sorted({rank[x] for x in kept})
        limit *= budget / tokens * 0.97
    return None
