"""The atomic facts a text states, as regular expressions (numbers, identifiers, named entities, quoted
strings), and the spans a compressor must keep because they hold one. The metrics of `compress.algorithms.metrics.facts`
count these facts; the compressors and teachers protect them."""

from __future__ import annotations

import re

# numbers, versions, dates and times stay whole: 3.11, 12.5%, 2024-05-01, 10:30
NUMBER = re.compile(r"(?<![\w.])[-+]?\d[\d_,]*(?:[.:/-]\d+)*%?(?![\w])")
# dotted names, snake_case, camelCase, calls, dunder names
IDENTIFIER = re.compile(
    r"\b[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+\b|\b[a-z]\w*_\w+\b|\b_+\w+\b|\b[a-z]+[A-Z]\w*\b|\b[A-Za-z_]\w*(?=\()"
)
# capitalised words that do not open a sentence, and runs of them ("New York Times")
ENTITY = re.compile(r"(?<![.!?:]\s)(?<!^)(?<!\n)\b[A-Z][a-zA-Z]+(?:\s+[A-Z][a-zA-Z]+)*\b")
QUOTED = re.compile(r"\"([^\"\n]{1,60})\"|'([^'\n]{1,60})'|`([^`\n]{1,60})`")

KINDS = {"numbers": NUMBER, "identifiers": IDENTIFIER, "entities": ENTITY}

# a chat turn or a logged message at the start of a line: `User: ...`, `assistant: ...`,
# `[10:32] Ana: ...`, `> Bob: ...` (a capitalised name; indented `name: value` lines are not turns)
ROLES = ("user", "assistant", "system", "human", "ai", "bot", "agent", "customer")
TURN = re.compile(
    r"^(>\s*)?(\[[^\]]{1,24}\]\s*)?((?i:" + "|".join(ROLES) + r")|[A-Z][a-z][\w.-]{0,23})\s*:\s+\S"
)


# a line that opens a session of a long conversation or a day of a log: `Session 7 (8 May 2023)`,
# `## Conversation 3 - 2023-05-08`, `[8 May 2023]`, `Date: 8 May 2023` (what dates the turns under it)
SESSION = re.compile(
    r"^\s*(#+\s*)?(?i:session|conversation|day|date)\b[^\n\d]{0,12}\d[^\n]{0,48}$"
    r"|^\s*\[?\d{1,4}[ ./,-]{1,2}\w{1,9}[ ./,-]{1,2}\d{2,4}\]?\s*$"
)


def protected_spans(text: str, kinds: list[str], patterns: list[str]) -> list[tuple[int, int]]:
    """Character spans that an extractive compressor must keep: fact kinds and user regexes (multiline)."""
    spans: list[tuple[int, int]] = []
    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"unknown protected kind {kind!r}; choose from {sorted(KINDS)}")
        spans += [m.span() for m in KINDS[kind].finditer(text)]
    for pat in patterns:
        spans += [m.span() for m in re.finditer(pat, text, flags=re.MULTILINE) if m.end() > m.start()]
    return spans
