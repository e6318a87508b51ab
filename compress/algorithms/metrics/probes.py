"""Which probe questions a text gets: one per part of the text, so the probes see all of it.

The text is cut into as many equal stretches as there are probes (`validation.n_probes`); probe j asks
about an anchor term of part j (an identifier, a named entity or, failing those, the part's longest
word) through the domain's `part_probes` templates ("What does the text say about {anchor}?"). Every
probe records the part its answer lies in (-1 for a whole-text probe: a domain without part probes,
or a part with no anchor). Anchors are taken from the original text and asked of the original and
the compressed text alike, so a compressor that drops a part is asked about what it dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from compress.algorithms.text.patterns import ENTITY, IDENTIFIER

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{5,}")
# common long words that say nothing about a part
_DULL = {
    "return", "returns", "should", "which", "would", "because", "between", "default", "otherwise",
    "function", "argument", "arguments", "object", "objects", "instead", "whether", "without",
    "another", "called", "following", "specified", "optional", "therefore", "however",
}  # fmt: skip


@dataclass(frozen=True)
class Probe:
    """One probe question and the part of the text it is about (-1: the whole text)."""

    question: str
    part: int


def part_anchors(text: str, parts: int) -> list[str | None]:
    """Per part of the text, the term a probe asks about (None where the part has none)."""
    if parts < 1:
        return []
    size = max(1, len(text)) / parts
    found: list[dict[str, tuple[int, int]]] = [{} for _ in range(parts)]
    for rank, pattern in enumerate((IDENTIFIER, ENTITY, _WORD)):
        for m in pattern.finditer(text):
            term = m.group(0).strip().rstrip("(")
            if len(term) < 3 or term.lower() in _DULL:
                continue
            part = min(parts - 1, int(m.start() / size))
            # the best kind first, then the longer term; first occurrence wins ties
            found[part].setdefault(term, (rank, -len(term)))
    used: set[str] = set()
    anchors: list[str | None] = []
    for terms in found:
        ranked = sorted((key, term) for term, key in terms.items() if term not in used)
        anchors.append(ranked[0][1] if ranked else None)
        if ranked:
            used.add(ranked[0][1])
    return anchors


def text_probes(text: str, domain: Any, n: int) -> list[Probe]:
    """The `n` probes for one text under its domain's settings (`part_probes`, `probes`)."""
    templates = [str(t) for t in domain.get("part_probes") or []]
    whole = [str(p) for p in domain.probes]
    if not templates:
        return [Probe(q, -1) for q in whole[:n]]
    probes = []
    for j, anchor in enumerate(part_anchors(text, n)):
        if anchor is None:
            probes.append(Probe(whole[j % len(whole)], -1))
        else:
            probes.append(Probe(templates[j % len(templates)].format(anchor=anchor), j))
    return probes
