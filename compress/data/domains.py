"""Domains: a rule-based classifier for mixed corpora, and the settings each sample is routed to."""

from __future__ import annotations

import ast
import re
from typing import Any

from compress.errors import CompressError

DOMAINS = ("nl", "code", "memory")

_CODE_LINE = re.compile(
    r"^\s*(def |async def |class |import |from \S+ import |return\b|raise\b|yield\b|@\w|if .*:\s*$|elif .*:\s*$|"
    r"else:\s*$|for .*:\s*$|while .*:\s*$|try:\s*$|except\b.*:\s*$|with .*:\s*$|[\w.\[\]]+\s*[-+*/]?=\s*\S)"
)
_BULLET = re.compile(r"^\s*([-*•]|\d+[.)])\s+")
_MEMORY_WORDS = re.compile(
    r"\b(user|prefers?|likes?|wants?|project|remember|deadline|works? (on|with)|their)\b", re.IGNORECASE
)


def classify(text: str) -> str:
    """`code`, `memory` or `nl`, from the shape of the lines: no model, microseconds a sample."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return "nl"
    if _parses_as_definitions(text):
        return "code"
    code = sum(1 for line in lines if _CODE_LINE.match(line)) / len(lines)
    if code >= 0.35 and re.search(r"^\s*(def|class|import|from|return)\b|\w+\(.*\)", text, re.MULTILINE):
        return "code"
    bullets = sum(1 for line in lines if _BULLET.match(line)) / len(lines)
    if bullets >= 0.5 and _MEMORY_WORDS.search(text):
        return "memory"
    return "nl"


def _parses_as_definitions(text: str) -> bool:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return any(
        isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Import | ast.ImportFrom)
        for n in tree.body
    )


def sub_domain(domain_cfg: Any, name: str) -> Any:
    """The settings for a sample of domain `name`: the part of a mixed domain, or the domain itself."""
    if str(domain_cfg.name) != "mixed":
        return domain_cfg
    if name not in domain_cfg.parts:
        raise CompressError(
            f"domain=mixed has no settings for samples of domain {name!r} (it has {list(domain_cfg.parts)})."
        )
    return domain_cfg.parts[name]
