"""Domains: a rule-based classifier for mixed corpora, and the settings each sample is routed to."""

from __future__ import annotations

import ast
import re
from typing import Any

from omegaconf import DictConfig, OmegaConf

from compress import CONF_DIR
from compress.algorithms.text.patterns import ROLES, TURN
from compress.infra.errors import CompressError

DOMAINS = ("nl", "code", "memory")

_CODE_LINE = re.compile(
    r"^\s*(def |async def |class |import |from \S+ import |return\b|raise\b|yield\b|@\w|if .*:\s*$|elif .*:\s*$|"
    r"else:\s*$|for .*:\s*$|while .*:\s*$|try:\s*$|except\b.*:\s*$|with .*:\s*$|[\w.\[\]]+\s*[-+*/]?=\s*\S)"
)
_BULLET = re.compile(r"^\s*([-*•]|\d+[.)])\s+")
_MEMORY_WORDS = re.compile(
    r"\b(user|prefers?|likes?|wants?|project|remember|deadline|works? (on|with)|their)\b", re.IGNORECASE
)
# a line of a C-family language (JS/TS, Java, C, Go, Rust...): braces, semicolons, arrows, keywords
_BRACE_LINE = re.compile(
    r"(^\s*[{}\])]+;?\s*$|[;{]\s*(//.*)?$|^\s*(function|const|let|var|public|private|static|func|fn|"
    r"package|#include|int|void|return|if\s*\(|for\s*\(|while\s*\()\b|=>)"
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
    braces = sum(1 for line in lines if _BRACE_LINE.search(line)) / len(lines)
    if len(lines) >= 2 and braces >= 0.5 and re.search(r"[{};]", text):
        return "code"
    bullets = sum(1 for line in lines if _BULLET.match(line)) / len(lines)
    if bullets >= 0.5 and _MEMORY_WORDS.search(text):
        return "memory"
    # a chat transcript or message log: most lines are turns, and two speakers at least
    turns = [m.group(3).lower() for line in lines if (m := TURN.match(line))]
    speakers = set(turns)
    if (
        len(lines) >= 2
        and len(turns) / len(lines) >= 0.5
        and len(speakers) >= 2
        # a known role, or someone speaking twice: a conversation, not a list of `Label: value` lines
        and (speakers & set(ROLES) or len(turns) > len(speakers))
    ):
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


def default_domains() -> dict[str, DictConfig]:
    """The settings of every single domain (conf/domain/<name>.yaml), resolved: what a compressor
    without a run config (a baseline) routes to."""
    return {name: load_domain(CONF_DIR / "domain" / f"{name}.yaml") for name in DOMAINS}


def load_domain(path: Any) -> DictConfig:
    """One domain's settings from a yaml file, with its `${prompt:...}` resolved."""
    node = OmegaConf.load(path)
    return resolved(node, str(path))


def resolved(node: Any, where: str) -> DictConfig:
    """A domain's settings as a plain, resolved config (a clear error naming `where` if it cannot be)."""
    try:
        out = OmegaConf.create(OmegaConf.to_container(node, resolve=True))
    except Exception as exc:  # omegaconf raises several kinds; all mean the same to the user
        raise CompressError(
            f"{where}: the domain settings do not resolve ({exc}). Fix the interpolation or the prompt file it names."
        ) from exc
    assert isinstance(out, DictConfig)
    return out


def domain_table(domain_cfg: Any | None, where: str = "domain config") -> dict[str, DictConfig]:
    """Settings per domain name: the defaults, overridden by a run's `domain` (each part of a mixed one,
    or the single domain it trained on)."""
    table = default_domains()
    if domain_cfg is None:
        return table
    if str(domain_cfg.name) == "mixed":
        for name in domain_cfg.parts:
            table[str(name)] = resolved(domain_cfg.parts[name], f"{where}: domain.parts.{name}")
    else:
        table[str(domain_cfg.name)] = resolved(domain_cfg, f"{where}: domain")
    return table
