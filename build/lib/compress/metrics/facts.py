"""Atomic facts of a text (numbers, identifiers, named entities, quoted strings) and their survival.

Plain regular expressions, no model: cheap enough to run on every pair and every answer, strict
enough to catch what embedding similarity forgives (a dropped version number, a renamed function).
"""

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


def atomic_facts(
    text: str, kinds: tuple[str, ...] = ("numbers", "identifiers", "entities", "quoted")
) -> set[str]:
    """The set of atomic facts the text states."""
    facts: set[str] = set()
    for kind in kinds:
        if kind == "quoted":
            facts |= {next(g for g in m.groups() if g) for m in QUOTED.finditer(text)}
        else:
            facts |= {m.group(0) for m in KINDS[kind].finditer(text)}
    return {f.strip() for f in facts if len(f.strip()) > 1 or f.strip().isdigit()}


def fact_recall(original: str, compressed: str) -> float:
    """Share of the original's atomic facts still present in the compressed text (1.0 when it has none)."""
    facts = atomic_facts(original)
    if not facts:
        return 1.0
    return sum(1 for f in facts if f in compressed) / len(facts)


def answer_fact_agreement(answers_original: list[str], answers_compressed: list[str]) -> float:
    """Share of the facts in the answers on the original that the answers on the compressed text repeat."""
    facts = set().union(*(atomic_facts(a) for a in answers_original)) if answers_original else set()
    if not facts:
        return 1.0
    joined = "\n".join(answers_compressed)
    return sum(1 for f in facts if f in joined) / len(facts)


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


def kept_by_kind(originals: list[str], compressed: list[str]) -> dict[str, float]:
    """Share of the originals' numbers, identifiers and entities kept verbatim, pooled over samples."""
    out = {}
    for kind in KINDS:
        total = kept = 0
        for o, c in zip(originals, compressed, strict=True):
            facts = atomic_facts(o, (kind,))
            total += len(facts)
            kept += sum(1 for f in facts if f in c)
        out[f"{kind}_kept"] = kept / total if total else 1.0
    return out


def code_names(code: str) -> set[str] | None:
    """Names a piece of code defines or uses (functions, classes, arguments, variables, attributes);
    None when it does not parse."""
    import ast

    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return None
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
    return {n for n in names if len(n) > 1}


def code_names_kept(originals: list[str], compressed: list[str], is_code: list[bool]) -> float | None:
    """Share of the names of parseable original code found as whole words in the compressed text."""
    total = kept = 0
    for o, c, code in zip(originals, compressed, is_code, strict=True):
        names = code_names(o) if code else None
        if not names:
            continue
        words = set(re.findall(r"[A-Za-z_]\w*", c))
        total += len(names)
        kept += len(names & words)
    return kept / total if total else None
