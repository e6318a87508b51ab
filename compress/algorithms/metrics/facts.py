"""Atomic facts of a text (numbers, identifiers, named entities, quoted strings) and their survival.

Plain regular expressions, no model: cheap enough to run on every pair and every answer, strict
enough to catch what embedding similarity forgives (a dropped version number, a renamed function).
"""

from __future__ import annotations

import re

from compress.algorithms.text.patterns import KINDS, QUOTED


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
