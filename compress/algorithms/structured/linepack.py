"""Logs and listings beyond lossless: which lines stay, and one marker for every run that goes.

Lines are ranked in units (a traceback is one unit, kept whole): the errors first, then the lines
the query singles out (the IDF of the query words they share; in a `git log`, with their commit's
header), then the first and last lines, then the rest: weaker query matches first, then the first line
of each kind (its template, or its directory), then the others from the head on. Kept lines
are written compact (`lines.compact_log` / `compact_listing`); a run of left-out lines becomes one
marker line naming how many went, what they were like and the id the store keeps them under:

    [… 118 lines like "INFO worker-# heartbeat ok seq=#" · id 3f9a2b1c]
    [… 40 more entries in compress/algorithms/ · id 0c1d2e3f]

A run of blank lines, or one lone line about as short as its marker, is kept rather than marked.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

from compress.algorithms.structured.lines import compact_listing, compact_log, grep_hit, path_parts
from compress.algorithms.structured.query import line_scores
from compress.algorithms.structured.signals import WARN_LINE, error_units, template
from compress.algorithms.structured.store import text_id

EDGE_LINES = 3  # first and last lines kept so the output's frame shows
# a lone left-out line this short is kept: its marker (a terse one) would cost about as much
FILL_CHARS = {False: 100, True: 40}
STRONG = 0.25  # of the best score: a query line weaker than that waits until the frame is in
RECORD = re.compile(r"^commit [0-9a-f]{7,40}\b")  # the first line of a record
RECORD_REACH = 200  # lines a record's header is looked for above a line


def group_of(line: str) -> tuple[str, str] | None:
    """(`dir`/`file`, its name) a listing entry belongs to: a path's directory, a grep hit's file."""
    if (p := path_parts(line)) is not None:
        return "dir", p[0]
    if (h := grep_hit(line)) is not None:
        return "file", h[0]
    return None


class LineDoc:
    """A log or a listing as lines ranked in units (`units`, best first), rendered with any lines kept."""

    def __init__(self, text: str, shape: str, query: str | None) -> None:
        self.shape = shape
        self.lines = text.split("\n")
        self.kinds = [
            template(line) if shape == "log" else (":".join(g) if (g := group_of(line)) else template(line))
            for line in self.lines
        ]
        self.units = self._rank(query)

    def _rank(self, query: str | None) -> list[list[int]]:
        lines, kinds = self.lines, self.kinds
        scores, rare = line_scores(lines, query)
        top = max(scores, default=0.0)
        # a line the query singles out, and scores near the best: kept before the frame of the text
        asks = [rare[i] and scores[i] >= STRONG * top for i in range(len(lines))]
        seen: Counter[str] = Counter()
        repeat = []  # how many earlier lines are of the same kind
        for k in kinds:
            repeat.append(seen[k])
            seen[k] += 1
        errors = sorted(error_units(lines), key=lambda u: (-max(scores[i] for i in u), repeat[u[0]], u[0]))
        used = {i for u in errors for i in u}
        live = [i for i, line in enumerate(lines) if line.strip() and i not in used]
        asked: list[list[int]] = []
        for i in sorted((i for i in live if asks[i]), key=lambda i: (-scores[i], repeat[i], i)):
            if i not in used:
                unit = [h for h in self._header(i) if h not in used] + [i]
                used.update(unit)
                asked.append(unit)
        text_lines = [i for i, line in enumerate(lines) if line.strip()]
        edges = sorted({i for i in text_lines[:EDGE_LINES] + text_lines[-EDGE_LINES:] if i not in used})
        used.update(edges)
        # the rest: what the query names weakly, the first line of each kind (the unusual lines of a
        # log, every directory of a listing), then the others from the head on (runs, few markers)
        rest = sorted(
            (i for i in live if i not in used),
            key=lambda i: (
                not rare[i],
                -scores[i] if rare[i] else 0.0,
                repeat[i] > 0,
                not WARN_LINE.search(lines[i]),
                i,
            ),
        )
        return errors + asked + [[i] for i in edges] + [[i] for i in rest]

    def _header(self, i: int) -> list[int]:
        """The header of the record line i lies in, when the text is made of records (a `git log`'s
        commits: `commit`, `Author`, `Date`), so a line the query names shows whose it is."""
        for h in range(i - 1, max(-1, i - RECORD_REACH), -1):
            if RECORD.match(self.lines[h]):
                end = h
                while end + 1 < i and self.lines[end + 1].strip():
                    end += 1
                return list(range(h, end + 1))
        return []

    def choose(self, limit: float, marker_chars: float, terse: bool = False) -> set[int]:
        """Lines kept unit by unit, in rank order, while the estimated length (characters, markers
        included) stays within `limit`: a unit that would not fit is skipped and the next one tried."""
        n = len(self.lines)
        kept: set[int] = set()
        total = marker_chars  # nothing kept: one marker for everything
        for unit in self.units:
            a, b = min(unit), max(unit)
            # the unit splits the run it lies in: a marker on each side where lines still go
            left = a > 0 and a - 1 not in kept
            right = b < n - 1 and b + 1 not in kept
            delta = sum(len(self.lines[i]) + 1 for i in unit) + (left + right - 1) * marker_chars
            if total + delta <= limit:
                kept.update(unit)
                total += delta
        return kept

    def _filled(self, kept: list[bool], terse: bool) -> list[bool]:
        """`kept` with every blank run, and every lone short line, between kept lines kept too."""
        out = list(kept)
        n, i = len(out), 0
        while i < n:
            if out[i]:
                i += 1
                continue
            j = i
            while j < n and not kept[j]:
                j += 1
            gap = self.lines[i:j]
            if all(not g.strip() for g in gap) or (j - i == 1 and len(gap[0]) <= FILL_CHARS[terse]):
                out[i:j] = [True] * (j - i)
            i = j
        return out

    def render(
        self, kept: set[int] | None, mark: Callable[[str], str] | None = None, terse: bool = False
    ) -> str:
        """The text with the lines in `kept` (None: all) and a marker for every run of the rest;
        `mark(stored)` gives a run's id (and may store it); without it the id is a hash of where the
        run is (a probe); `terse`: markers say only how many lines went."""
        n = len(self.lines)
        mask = self._filled([kept is None or i in kept for i in range(n)], terse)
        compact = compact_log if self.shape == "log" else compact_listing
        out: list[str] = []
        i = 0
        while i < n:
            j = i
            while j < n and mask[j] == mask[i]:
                j += 1
            block = self.lines[i:j]
            out.append(compact("\n".join(block)) if mask[i] else self._marker(i, j, mark, terse))
            i = j
        return "\n".join(out)

    def _marker(self, i: int, j: int, mark: Callable[[str], str] | None, terse: bool) -> str:
        n = j - i
        key = mark("\n".join(self.lines[i:j])) if mark is not None else text_id(f"{i}:{j}")
        if terse:
            noun = "line" if self.shape == "log" else "more entr"
            plural = ("s" if n > 1 else "") if self.shape == "log" else ("ies" if n > 1 else "y")
            return f"[… {n} {noun}{plural} · id {key}]"
        if self.shape == "log":
            what = f"{n} line{'s' if n > 1 else ''}"
            kinds = Counter(self.kinds[k] for k in range(i, j) if self.lines[k].strip())
            if not kinds:
                return f"[… {what} · id {key}]"
            (tpl, m), *_ = kinds.most_common(1)
            if m == n:
                return f'[… {what} like "{tpl}" · id {key}]'
            if m == 1:  # every line its own kind: the first for an example
                return f'[… {what}, e.g. "{next(iter(kinds))}" · id {key}]'
            return f'[… {what}, {m} like "{tpl}" · id {key}]'
        groups = Counter(g for line in self.lines[i:j] if (g := group_of(line)) is not None)
        if not groups:
            return f"[… {n} more entr{'ies' if n > 1 else 'y'} · id {key}]"
        ((kind, name), m), *_ = groups.most_common(1)
        noun = ("hits" if n > 1 else "hit") if kind == "file" else ("entries" if n > 1 else "entry")
        where = f"in {name}" if m == n else f"{m} in {name}"
        sep = " " if m == n else ", "
        return f"[… {n} more {noun}{sep}{where} · id {key}]"
