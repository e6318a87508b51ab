"""What every teacher is: it writes the compressed side of each pair, and says what it needs to run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from compress.infra.llm.client import LLMSession


@dataclass
class TeacherOutput:
    """The compressed text and the seconds the teacher spent on it; an extractive teacher also says
    which character spans of the original it kept (`kept`: the exact keep mask; None: align it)."""

    compressed: str
    seconds: float
    kept: list[tuple[int, int]] | None = None


def effective_rate(rate: float, target_tokens: int | None, n_tokens: int) -> float:
    """The share of tokens to keep: `target_tokens` (a per-sample budget) overrides `rate` when set."""
    if target_tokens:
        return min(1.0, int(target_tokens) / max(1, n_tokens))
    return float(rate)


class Teacher(Protocol):
    """A teacher kind (`teacher.kind`): built from the job config, asked by preflight what it lacks."""

    name: str

    @classmethod
    def from_config(cls, cfg: Any, cache_dir: Path, llm: LLMSession) -> Teacher:
        """The teacher the job config describes (`cfg.teacher`, `cfg.domain`)."""
        ...

    @classmethod
    def requirements(cls, cfg: Any) -> list[str]:
        """What this machine lacks to run it (empty when it can run), each with its fix."""
        ...

    def __call__(self, texts: list[str], domains: list[Any]) -> list[TeacherOutput]:
        """One output per text; `domains` are each text's domain settings."""
        ...
