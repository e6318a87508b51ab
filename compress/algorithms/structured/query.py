"""A query's content words, matched against the lines (or rows) of a tool output.

Words are stemmed by a light suffix stripper (plurals, -ing, -ed), lower-cased, at least 3 letters
(or 2 digits), function words out; identifiers are split at camelCase too (`DiskFullError` names
`disk`, `full`, `error`) and compounds count whole too (`package-42`). A line's score sums the inverse document frequency of the query words it shares, so a
line naming a rare word of the query outranks one naming a word every line has.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

# function words and the words of a question about an output, which name nothing in it
STOP = frozenset(
    re.findall(
        r"\S+",
        """
    the and but for nor not yet are was were been being have has had having does did doing done can could
    should would will shall may might must this that these those there here their them they then than
    what which who whom whose when where why how any all some each every few more most other such only
    own same too very just also about above after again against before below between both during into
    from off over under until with without within while you your yours our ours his her hers its it's
    she him himself herself itself myself ourselves themselves one get got give gave tell show shows
    say says said see seen find found list lists listed please output outputs line lines log logs
    """,
    )
)
_ALNUM = re.compile(r"[A-Za-z0-9]+")
_COMPOUND = re.compile(r"[A-Za-z0-9]+(?:[-_.][A-Za-z0-9]+)*")
_CAMEL = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_DOUBLE = re.compile(r"([b-df-hj-np-tv-z])\1$")


def stem(word: str) -> str:
    """A light stem: `errors` -> `error`, `reported` -> `report`, `running` -> `run`, `libraries` -> `library`."""
    w = word.lower()
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if w.endswith("sses"):
        return w[:-2]
    for suffix in ("ing", "ed"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            return w[:-1] if _DOUBLE.search(w) and not w.endswith(("ll", "ss", "zz")) else w
    if w.endswith("s") and not w.endswith(("ss", "us", "is")) and len(w) > 3:
        return w[:-1]
    return w


def _word(w: str) -> bool:
    return (len(w) >= 3 or (len(w) == 2 and w.isdigit())) and w.lower() not in STOP


def words_of(text: str) -> set[str]:
    """The stemmed content words of a line: compounds as they are (`package-42`, `v1.2`), their
    alphanumeric runs and those runs' camelCase parts; numbers of 2 digits or more count."""
    out: set[str] = set()
    for compound in _COMPOUND.findall(text):
        runs = _ALNUM.findall(compound)
        if len(runs) > 1:
            out.add(compound.lower())
        for token in runs:
            parts = _CAMEL.findall(token)
            out.update(stem(w) for w in ((token, *parts) if len(parts) > 1 else (token,)) if _word(w))
    return out


def query_terms(query: str | None) -> set[str]:
    """The stemmed content words of a query (empty for no query)."""
    return words_of(query or "")


def line_scores(lines: Sequence[str], query: str | None) -> tuple[list[float], list[bool]]:
    """Each line's score against the query, and whether it shares a word that at most half the lines
    have (a line the query singles out). The score sums the IDF of the query words a line shares (0
    for none), scaled down for a line longer than the average as BM25 does (k1 1.2, b 0.75): a long
    text shares words by chance."""
    terms = query_terms(query)
    if not terms:
        return [0.0] * len(lines), [False] * len(lines)
    shared = [words_of(line) & terms for line in lines]
    df = Counter(w for s in shared for w in s)
    n = max(1, len(lines))
    idf = {w: math.log(1 + n / c) for w, c in df.items()}
    avg = max(1.0, sum(len(line) for line in lines) / n)
    k1, b = 1.2, 0.75
    scores = [
        sum(idf[w] for w in s) * (k1 + 1) / (1 + k1 * (1 - b + b * len(line) / avg)) if s else 0.0
        for s, line in zip(shared, lines, strict=True)
    ]
    rare = [any(df[w] <= max(1, n // 2) for w in s) for s in shared]
    return scores, rare
