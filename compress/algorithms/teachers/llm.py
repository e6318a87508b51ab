"""`teacher.kind=llm`: any LiteLLM model (the local one included) rewrites the text under the
domain's instruction; with `teacher.structured` its answer must be JSON that parses."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from compress.algorithms.teachers.base import TeacherOutput
from compress.infra.errors import CompressError
from compress.infra.llm.client import ChatRequest, LLMSession
from compress.infra.llm.requirements import model_needs


class TeacherAnswer(BaseModel):
    """The structured answer a teacher must give: the compressed text, nothing else."""

    compressed: str = Field(min_length=1)


STRUCTURED_HINT = 'Reply with JSON only, exactly of the form {"compressed": "<the compressed text>"}.'


def parse_answer(text: str) -> TeacherAnswer | None:
    """The teacher's answer if it holds a valid JSON object of the right shape, else None."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        return TeacherAnswer.model_validate_json(text[start : end + 1])
    except ValidationError:
        return None


class LLMTeacher:
    """A LiteLLM model rewrites each text under the domain's instruction.

    With `teacher.structured`, the answer must be JSON that parses as `TeacherAnswer`; an answer
    that does not is asked again (showing the model its reply) up to `teacher.parse_retries` times.
    """

    def __init__(self, cfg: Any, llm: LLMSession) -> None:
        self.cfg, self.llm = cfg, llm
        self.structured = bool(cfg.get("structured", False))
        self.target_tokens = cfg.get("target_tokens")
        budget = f"{self.target_tokens}tok" if self.target_tokens else f"{cfg.rate}"
        self.name = f"llm:{cfg.model}@{budget}"

    @classmethod
    def from_config(cls, cfg: Any, cache_dir: Path, llm: LLMSession) -> LLMTeacher:
        """The teacher of `cfg.teacher`; the domain's instruction comes with each text."""
        return cls(cfg.teacher, llm)

    @classmethod
    def requirements(cls, cfg: Any) -> list[str]:
        """The model's key (or endpoint) must be at hand."""
        return model_needs(str(cfg.teacher.model), "generate", "teacher", cfg.llm.get("endpoints"))

    def hint(self) -> str:
        """How long the answer should be: `target_tokens` when set (it overrides `rate`), else the rate."""
        if self.target_tokens:
            return f" Aim for at most about {int(self.target_tokens)} tokens."
        return f" Aim for about {round(100 * float(self.cfg.rate))}% of the original length."

    def _request(self, key: str, messages: list[dict[str, str]]) -> ChatRequest:
        return ChatRequest(
            key=key,
            model=str(self.cfg.model),
            messages=messages,
            max_tokens=int(self.cfg.max_tokens),
            temperature=float(self.cfg.temperature),
        )

    def __call__(self, texts: list[str], domains: list[Any]) -> list[TeacherOutput]:
        """Rewrite every text under its domain's instruction (JSON answers re-asked until they parse)."""
        hint = self.hint() + (" " + STRUCTURED_HINT if self.structured else "")
        convs = [
            [
                {"role": "system", "content": str(dom.instruction) + hint},
                {"role": "user", "content": f"Text:\n{t}"},
            ]
            for t, dom in zip(texts, domains, strict=True)
        ]
        t0 = time.perf_counter()
        results = self.llm.run_many(
            [self._request(str(i), c) for i, c in enumerate(convs)], label=f"teacher {self.cfg.model}"
        )
        answers: dict[int, str] = {}
        pending: dict[int, str] = {}
        for i, r in enumerate(results):
            if not self.structured:
                answers[i] = r.text.strip()
            elif (parsed := parse_answer(r.text)) is not None:
                answers[i] = parsed.compressed.strip()
            else:
                pending[i] = r.text
        for attempt in range(int(self.cfg.get("parse_retries", 2))):
            if not pending:
                break
            retry = {
                i: [
                    *convs[i],
                    {"role": "assistant", "content": bad},
                    {"role": "user", "content": f"That was not valid. {STRUCTURED_HINT}"},
                ]
                for i, bad in pending.items()
            }
            again = self.llm.run_many(
                [self._request(f"{i}:retry{attempt}", c) for i, c in retry.items()], label="teacher (reparse)"
            )
            pending = {}
            for i, r in zip(retry, again, strict=True):
                if (parsed := parse_answer(r.text)) is not None:
                    answers[i] = parsed.compressed.strip()
                else:
                    convs[i], pending[i] = retry[i], r.text
        if pending:
            raise CompressError(
                f'teacher {self.cfg.model} gave no answer parsing as {{"compressed": ...}} for {len(pending)} of '
                f"{len(texts)} samples (e.g. {next(iter(pending.values()))[:120]!r}) after "
                f"{int(self.cfg.get('parse_retries', 2))} retries. Every answer is cached: rerun with "
                "teacher.parse_retries raised, or teacher.structured=false for a model that cannot emit JSON."
            )
        per = (time.perf_counter() - t0) / max(1, len(texts))
        return [TeacherOutput(answers[i], per) for i in range(len(texts))]
