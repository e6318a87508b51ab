"""Baselines every trained compressor is compared with, held to the same token budget: a registry by name.

- `identity`: the original text;
- `truncate`: the longest prefix within the budget, by the target model's tokenizer;
- `selfinfo`: the extractive self-information method (Selective Context) under the bundled model.

A new baseline is a class implementing `compress.compressors.base.Compressor` and an entry in `BASELINES`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compress.compressors.base import Compressed, Compressor, Request
from compress.errors import CompressError
from compress.llm.tokens import TokenCounter
from compress.models.bundled import LOCAL_MODELS
from compress.teachers.selfinfo import SelfInfoTeacher


@dataclass
class BaselineContext:
    """What a baseline may need: the target model's token counter, the model cache, the scoring model."""

    counter: TokenCounter
    cache_dir: Path
    scoring_model: str = next(iter(LOCAL_MODELS))


def _timed(fn: Callable[[Request], str], requests: Sequence[Request]) -> list[Compressed]:
    out = []
    for r in requests:
        t0 = time.perf_counter()
        text = fn(r)
        out.append(Compressed(text, time.perf_counter() - t0))
    return out


class Identity:
    """The original text, unchanged."""

    name = "identity"

    def __init__(self, ctx: BaselineContext) -> None:
        self.ctx = ctx

    def compress_many(self, requests: Sequence[Request]) -> list[Compressed]:
        """Every text as it is."""
        return _timed(lambda r: r.text, requests)


class Truncate:
    """The longest prefix of the text within the budget (the head of the text)."""

    name = "truncate"

    def __init__(self, ctx: BaselineContext) -> None:
        self.counter = ctx.counter

    def compress_many(self, requests: Sequence[Request]) -> list[Compressed]:
        """Each text cut to its `target_tokens` by the target model's tokenizer."""
        return _timed(lambda r: self.counter.truncate(r.text, _budget(r)), requests)


class SelfInfo:
    """The extractive self-information method (Selective Context) held to a token budget."""

    name = "selfinfo"

    def __init__(self, ctx: BaselineContext) -> None:
        self.ctx = ctx
        self._teacher: SelfInfoTeacher | None = None

    def _scorer(self) -> SelfInfoTeacher:
        if self._teacher is None:  # loaded on first use only: a run without this baseline never pays for it
            self._teacher = SelfInfoTeacher(
                self.ctx.scoring_model, self.ctx.cache_dir, rate=1.0, unit="word", protect=[]
            )
        return self._teacher

    def _one(self, r: Request) -> str:
        teacher = self._scorer()
        teacher.target_tokens = max(1, _budget(r))
        unit = str(r.domain.unit) if r.domain is not None else "word"
        return teacher.compress_one(r.text, unit, [])

    def compress_many(self, requests: Sequence[Request]) -> list[Compressed]:
        """Each text's most informative units (words, or lines for code) within its `target_tokens`."""
        return _timed(self._one, requests)


def _budget(r: Request) -> int:
    if r.target_tokens is None:
        raise CompressError("a baseline needs a token budget: give each request target_tokens.")
    return int(r.target_tokens)


BASELINES: dict[str, Callable[[BaselineContext], Compressor]] = {
    "identity": Identity,
    "truncate": Truncate,
    "selfinfo": SelfInfo,
}


def make_baseline(name: str, ctx: BaselineContext) -> Compressor:
    """The baseline called `name` (a clear error naming the ones there are)."""
    if name not in BASELINES:
        raise CompressError(f"evaluate: unknown baseline {name!r}; choose from {sorted(BASELINES)}.")
    return BASELINES[name](ctx)


def scoring_model(teacher_cfg: Any) -> str:
    """The bundled model the selfinfo baseline scores with: the teacher's when it is bundled, else the first."""
    name = teacher_cfg.get("model")
    return str(name) if name in LOCAL_MODELS else next(iter(LOCAL_MODELS))
