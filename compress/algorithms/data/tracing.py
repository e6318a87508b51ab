"""Chained facts hidden in a long haystack of real text: the `tracing` task's data (no download).

In the style of RULER's variable tracking and BABILong: a chain of 1-3 statements is spread, in order, at
random depths through a haystack of this machine's real text, and the question can only be answered by
following the chain. Prose haystacks are paragraphs of the standard library's docstrings and the
package documentation under /usr/share/doc, the chain made of statements about invented names ("The
spare key to the boiler room is kept by Orvane." / "Orvane works out of the Tessaly depot."); code
haystacks are whole top-level chunks of the standard library's source, the chain module-level
assignments (`qzx_limit = 48213`, `wren_cap = qzx_limit`) that keep the file parseable. Only the
statement the question starts from shares words with it, and the answer occurs exactly once.
"""

from __future__ import annotations

import ast
import random
import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from pathlib import Path

from compress.algorithms.data.corpora import SOURCES, stdlib_files
from compress.algorithms.data.memory import content_words

HAYSTACKS = ("prose", "code")


@dataclass
class TracingCase:
    """One question over a haystack with its chain of statements (`evidence`, in chain order)."""

    id: str
    context: str
    question: str
    answer: str
    evidence: tuple[str, ...]
    hops: int
    haystack: str


@dataclass
class _Cfg:
    seed: int
    path: str | None = None
    text_field: str = "text"


# --- haystacks -------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _paragraphs(seed: int) -> tuple[str, ...]:
    """Prose paragraphs (20-300 words) from the standard library's docstrings and /usr/share/doc."""
    out: list[str] = []
    for name, cap in (("stdlib_nl", 1500), ("usr_share_doc", 800)):
        rows = SOURCES[name](_Cfg(seed))
        out += [r["text"].strip() for r in islice(rows, cap) if 20 <= len(r["text"].split()) <= 300]
    return tuple(dict.fromkeys(out))


@lru_cache(maxsize=4)
def _code_chunks(seed: int) -> tuple[str, ...]:
    """Whole top-level statements (with their decorators) of standard-library files that parse."""
    out: list[str] = []
    for path in stdlib_files(seed)[:150]:
        try:
            source = Path(path).read_text(encoding="utf-8")
            tree = ast.parse(source)
        except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
            continue
        lines = source.splitlines()
        for node in tree.body:
            # `from __future__` must open a module: moved elsewhere it stops the file compiling
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                continue
            decorators = getattr(node, "decorator_list", [])
            start = min([node.lineno, *(d.lineno for d in decorators)])
            chunk = "\n".join(lines[start - 1 : node.end_lineno or node.lineno])
            if 3 <= len(chunk) <= 6000 and "\t" not in chunk:
                out.append(chunk)
    return tuple(dict.fromkeys(out))


def _tokens(text: str, haystack: str) -> float:
    # prose: about 0.75 words a token; code has more tokens per word, about 4 characters a token
    return len(text.split()) / 0.75 if haystack == "prose" else len(text) / 4


# --- chains ----------------------------------------------------------------------------------------

_ONSETS = (
    "b",
    "br",
    "d",
    "dr",
    "f",
    "g",
    "gr",
    "k",
    "kr",
    "l",
    "m",
    "n",
    "p",
    "qu",
    "r",
    "s",
    "t",
    "tr",
    "v",
    "z",
)
_VOWELS = ("a", "e", "i", "o", "u", "ae", "ei", "ou")
_CODAS = ("", "", "n", "r", "l", "s", "th", "nd", "rk", "sk")


def _name(rng: random.Random) -> str:
    """A pronounceable invented word of two syllables ("Torvane", "Quelis")."""
    return (
        rng.choice(_ONSETS)
        + rng.choice(_VOWELS)
        + rng.choice(_ONSETS)
        + rng.choice(_VOWELS)
        + rng.choice(_CODAS)
    )


ROOMS = (
    "boiler room", "east archive", "server cupboard", "chapel loft", "map room", "cold store",
    "print room", "north annex", "signal box", "tool shed", "records vault", "greenhouse",
)  # fmt: skip
# (statement, what the question asks, the person as the question describes them); {r} a room, {x} a name
HOLDERS = (
    ("The spare key to the {r} is kept by {x}.", "Who keeps the spare key to the {r}?",
     "the person who keeps the spare key to the {r}"),
    ("The logbook for the {r} is held by {x}.", "Who holds the logbook for the {r}?",
     "the person who holds the logbook for the {r}"),
    ("Only {x} knows the combination of the safe in the {r}.", "Who knows the combination of the safe in the {r}?",
     "the one who knows the combination of the safe in the {r}"),
    ("Every parcel leaving the {r} is signed off by {x}.", "Who signs off parcels leaving the {r}?",
     "the person who signs off parcels leaving the {r}"),
    ("The lamp in the {r} is trimmed each evening by {x}.", "Who trims the lamp in the {r}?",
     "the person who trims the lamp in the {r}"),
    ("The inventory of the {r} was last checked by {x}.", "Who last checked the inventory of the {r}?",
     "the person who last checked the inventory of the {r}"),
)  # fmt: skip
# second hop: where that person is based ({x} the person, {p} an invented place, {k} its kind)
BASES = (
    "{x} works out of the {p} {k}.",
    "{x} reports each morning to the {p} {k}.",
    "{x} has a desk at the {p} {k}.",
    "{x} clocks in at the {p} {k}.",
    "Most days {x} can be found at the {p} {k}.",
)
PLACE_KINDS = ("depot", "yard", "warehouse", "station", "workshop", "mill")
# third hop: which road the place is on ({s} an invented name, {w} a road word)
ROADS = (
    "The {p} {k} is on {s} {w}.",
    "The {p} {k} stands at the end of {s} {w}.",
    "You reach the {p} {k} from {s} {w}.",
    "The {p} {k} faces {s} {w}.",
)
ROAD_WORDS = ("Street", "Lane", "Avenue", "Row", "Terrace")
SUFFIXES = ("limit", "cap", "max", "size", "count", "offset", "total", "base", "width", "depth")


def _code_question(rng: random.Random, var: str) -> str:
    return rng.choice(
        (
            "What number does {v} hold?",
            "What integer is {v} equal to at module level?",
            "Which value is bound to {v}?",
            "What is the numeric value of {v}?",
        )
    ).format(v=var)


def _prose_chain(rng: random.Random, hops: int, banned: str) -> tuple[list[str], str, str]:
    """Statements, question and answer of a prose chain whose invented names occur nowhere in
    `banned` (lowercased text)."""
    names: list[str] = []
    while len(names) < 3:
        n = _name(rng).capitalize()
        if n.lower() not in banned and n not in names:
            names.append(n)
    x, p, s = names
    room, kind, road = rng.choice(ROOMS), rng.choice(PLACE_KINDS), rng.choice(ROAD_WORDS)
    held, ask, who = rng.choice(HOLDERS)
    statements = [held.format(r=room, x=x)]
    if hops == 1:
        return statements, ask.format(r=room), x
    statements.append(rng.choice(BASES).format(x=x, p=p, k=kind))
    desc = who.format(r=room)
    if hops == 2:
        q = rng.choice(("Where is {d} based?", "At which site is {d} stationed?"))
        return statements, q.format(d=desc), f"{p} {kind}"
    statements.append(rng.choice(ROADS).format(p=p, k=kind, s=s, w=road))
    q = rng.choice(
        (
            "On which road is the site where {d} is based?",
            "What road is the site of {d} located on?",
        )
    )
    return statements, q.format(d=desc), f"{s} {road}"


def _code_chain(rng: random.Random, hops: int, banned: str) -> tuple[list[str], str, str]:
    """Assignments, question and answer of a variable chain; names and number absent from `banned`."""
    names: list[str] = []
    while len(names) < hops:
        v = f"{_name(rng)}_{rng.choice(SUFFIXES)}"
        if v not in banned and v not in names:
            names.append(v)
    while True:
        number = str(rng.randint(10000, 99999))
        if number not in banned:
            break
    statements = [f"{names[0]} = {number}"] + [f"{names[i]} = {names[i - 1]}" for i in range(1, hops)]
    return statements, _code_question(rng, names[-1]), number


def _haystack(rng: random.Random, pool: tuple[str, ...], tokens: int, kind: str) -> list[str]:
    """Pieces of the pool, in a random order, until about `tokens` tokens."""
    out: list[str] = []
    total = 0.0
    for i in rng.sample(range(len(pool)), len(pool)):
        if total >= tokens:
            break
        out.append(pool[i])
        total += _tokens(pool[i], kind)
    return out


def _case(i: int, seed: int, hops: int, kind: str, haystack_tokens: int) -> TracingCase:
    rng = random.Random(f"tracing:{seed}:{i}")
    pool = _paragraphs(seed) if kind == "prose" else _code_chunks(seed)
    if not pool:
        raise RuntimeError(f"tracing: no {kind} text found on this machine to build a haystack from")
    pieces = _haystack(rng, pool, haystack_tokens, kind)
    banned = "\n".join(pieces).lower() if kind == "prose" else "\n".join(pieces)
    chain = _prose_chain if kind == "prose" else _code_chain
    statements, question, answer = chain(rng, hops, banned)
    # chain order, at random depths spread over the haystack (the gaps between its pieces)
    depths = sorted(rng.sample(range(len(pieces) + 1), hops))
    for off, (depth, st) in enumerate(zip(depths, statements, strict=True)):
        pieces.insert(depth + off, st)
    context = "\n\n".join(pieces) + ("\n" if kind == "code" else "")
    return TracingCase(f"tracing-{seed}-{i}", context, question, answer, tuple(statements), hops, kind)


def answer_statement(case: TracingCase) -> str:
    """The chain statement that holds the answer: the last one in prose, the first (the number) in code."""
    return case.evidence[-1] if case.haystack == "prose" else case.evidence[0]


def unlinked_statements(case: TracingCase) -> tuple[str, ...]:
    """The chain statements the question shares no content word with: all but the one it starts from
    (prose: the first, code: the last, which names the variable asked about)."""
    return case.evidence[1:] if case.haystack == "prose" else case.evidence[:-1]


def generate_tracing(
    n: int, seed: int, haystack_tokens: int = 6000, hops: tuple[int, ...] = (1, 2, 3)
) -> list[TracingCase]:
    """`n` chained-fact questions: hop counts balanced, half over prose and half over code haystacks of
    about `haystack_tokens` tokens; the same for the same seed."""
    if not hops or any(h not in (1, 2, 3) for h in hops):
        raise ValueError(f"generate_tracing: hops must be drawn from 1, 2 and 3 (got {hops}).")
    cases = []
    for i in range(n):
        h = hops[i % len(hops)]
        kind = HAYSTACKS[(i // len(hops)) % 2]
        for attempt in range(10):
            case = _case(i if attempt == 0 else i + 100_000 * attempt, seed, h, kind, haystack_tokens)
            if _sound(case):
                case.id = f"tracing-{seed}-{i}"
                cases.append(case)
                break
        else:
            raise RuntimeError(f"tracing: could not build case {i} ({kind}, {h} hops); try another seed")
    return cases


def _sound(case: TracingCase) -> bool:
    """The answer occurs once, the unlinked statements share no word with the question, code parses."""
    flags = re.IGNORECASE if case.haystack == "prose" else 0
    if len(re.findall(re.escape(case.answer), case.context, flags)) != 1:
        return False
    q = content_words(case.question)
    if any(q & content_words(st) for st in unlinked_statements(case)):
        return False
    if case.haystack == "code":
        try:
            ast.parse(case.context)
        except SyntaxError:
            return False
    return True
