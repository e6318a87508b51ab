"""Teachers write the compressed side of each pair: a registry keyed by `teacher.kind`.

- `selfinfo`: local and extractive (Selective Context), see `compress.algorithms.teachers.selfinfo`;
- `llm`: any LiteLLM model rewrites the text, see `compress.algorithms.teachers.llm`.

A new teacher is a class implementing `compress.algorithms.teachers.base.Teacher` and an entry here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compress.algorithms.teachers.base import Teacher
from compress.algorithms.teachers.llm import LLMTeacher
from compress.algorithms.teachers.selfinfo import SelfInfoTeacher
from compress.infra.errors import CompressError
from compress.infra.llm.client import LLMSession

TEACHERS: dict[str, type[Teacher]] = {"selfinfo": SelfInfoTeacher, "llm": LLMTeacher}


def teacher_kind(cfg: Any) -> type[Teacher]:
    """The class of the configured `teacher.kind` (a clear error for an unknown kind)."""
    kind = str(cfg.teacher.kind)
    if kind not in TEACHERS:
        raise CompressError(f"teacher.kind={kind!r} is unknown. Choose one of {sorted(TEACHERS)}.")
    return TEACHERS[kind]


def make_teacher(cfg: Any, cache_dir: Path, llm: LLMSession) -> Teacher:
    """The configured teacher."""
    return teacher_kind(cfg).from_config(cfg, cache_dir, llm)
